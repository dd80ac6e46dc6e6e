"""DAO — Dynamic Adaptive Optimization (arXiv 2408.11856): multi-task financial sentiment.

Regression (score in [-1, 1]) and 5-class classification share a LoRA-tuned encoder;
a small learned module re-weights the two losses every step.
"""

from adaptune.method import Method, Mode
from adaptune.methods.hooks import hooks

from .config import METRICS, DAOConfig

METHOD = Method(
    name="dao",
    config_cls=DAOConfig,
    **hooks(__name__, step_series="step", read_splits="step"),
    metric="val/mse",
    mode=Mode.MIN,
    metrics=METRICS,
    compare_metrics=("val/mse", "val/r2", "val/acc", "val/f1"),
    input_example=[{"text": "The euro rallied after the ECB signalled more rate hikes."}],
    description="multi-task financial sentiment, LoRA encoder, learned loss weighting",
    data_sources=("synthetic-finsent", "fiqa", "phrasebank", "file", "hf"),
    data_options=("noise", "label_scores"),
    data_option_ranges={"noise": (0.0, 1.0)},  # scores lie in [-1, 1]
    data_columns=(("text", "text"), ("score", "score")),
)

__all__ = ["METHOD", "DAOConfig"]
