"""MAD — Modulation Adapters (arXiv 2307.08528): multi-domain learning on a frozen CNN.

Per domain, every conv filter kernel of a shared frozen ResNet-26 is scaled by an
adapter alpha_d (full M x N, or factorised rank I), with domain BatchNorm and heads.

    adaptune search jobs/mad_digits.yaml
"""

from adaptune.method import Method
from adaptune.methods.mad.config import MADConfig
from adaptune.methods.mad.model import build_model
from adaptune.methods.mad.predict import load_predictor, save_model
from adaptune.methods.mad.report import search_report
from adaptune.methods.mad.step import (
    METRICS,
    build_data,
    build_optimizers,
    evaluate,
    train_loader,
    train_step,
)

METHOD = Method(
    name="mad",
    config_cls=MADConfig,
    build_data=build_data,
    build_model=build_model,
    build_optimizers=build_optimizers,
    train_step=train_step,
    evaluate=evaluate,
    save_model=save_model,
    load_predictor=load_predictor,
    metric="val/acc",
    mode="max",
    metrics=METRICS,
    description="modulation adapters (full or rank I) on a frozen ResNet-26, per-domain BN/heads",
    train_loader=train_loader,
    search_report=search_report,
)

__all__ = ["METHOD", "MADConfig"]
