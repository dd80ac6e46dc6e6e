"""DALLMi — Domain Adaptation for LLM-based Multi-label classifiers (arXiv 2405.01883).

A multi-label encoder fine-tuned on a labelled source domain is adapted to a target
domain where only some positives are known: a variational positive-unlabelled loss per
label, MixUp between positives and unlabelled documents on word embeddings, and
label-balanced batches. ``mode`` switches to the baselines (source_only, pu_bce) or
the headroom (oracle: every target label); every mode starts from one shared
source-trained checkpoint (source.py);
``revealed`` sets the target's label availability, and after a search that varied
either, ``report.search_report`` tables DALLMi against the baselines per rate.

    from . import METHOD, DALLMiConfig
"""

from adaptune.method import Method, Mode
from adaptune.methods.hooks import hooks

from .config import METRICS, DALLMiConfig

METHOD = Method(
    name="dallmi",
    config_cls=DALLMiConfig,
    **hooks(
        __name__,
        evaluate_test="step",
        train_loader="sampler",
        search_report="report",
        read_splits="step",
    ),
    metric="val/map",
    mode=Mode.MAX,
    metrics=METRICS,
    compare_metrics=("val/map", "val/map_binarised", "val/macro_f1"),
    input_example=[{"text": "MRI of the brain shows a small lesion; follow-up scan advised."}],
    description="multi-label domain adaptation: variational PU loss, MixUp, balanced batches",
    data_sources=("synthetic-multilabel", "file", "hf"),
    data_options=("n_labels", "cooccur", "preset", "revealed", "source_domain", "target_domain"),
    data_option_ranges={"n_labels": (2, 6), "cooccur": (0.0, 1.0), "revealed": (0.0, 1.0)},
    data_columns=(("text", "text"), ("labels", "labels"), ("domain", "name")),
)

__all__ = ["METHOD", "DALLMiConfig"]
