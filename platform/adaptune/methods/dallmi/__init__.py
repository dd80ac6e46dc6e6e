"""DALLMi — Domain Adaptation for LLM-based Multi-label classifiers (arXiv 2405.01883).

A multi-label encoder fine-tuned on a labelled source domain is adapted to a target
domain where only some positives are known: a variational positive-unlabelled loss per
label, MixUp between positives and unlabelled documents on word embeddings, and
label-balanced batches. ``mode`` switches to the baselines (source_only, pu_bce);
``revealed`` sets the target's label availability, and after a search that varied
either, ``report.search_report`` tables DALLMi against the baselines per rate.

    from adaptune.methods.dallmi import METHOD, DALLMiConfig
"""

from adaptune.method import Method
from adaptune.methods.dallmi.config import DALLMiConfig
from adaptune.methods.dallmi.model import build_model
from adaptune.methods.dallmi.predict import load_predictor, save_model
from adaptune.methods.dallmi.report import search_report
from adaptune.methods.dallmi.sampler import train_loader
from adaptune.methods.dallmi.step import (
    METRICS,
    build_data,
    build_optimizers,
    evaluate,
    train_step,
)

METHOD = Method(
    name="dallmi",
    config_cls=DALLMiConfig,
    build_data=build_data,
    build_model=build_model,
    build_optimizers=build_optimizers,
    train_step=train_step,
    evaluate=evaluate,
    save_model=save_model,
    load_predictor=load_predictor,
    metric="val/map",
    mode="max",
    metrics=METRICS,
    description="multi-label domain adaptation: variational PU loss, MixUp, balanced batches",
    train_loader=train_loader,
    search_report=search_report,
)

__all__ = ["METHOD", "DALLMiConfig"]
