"""DAO — Dynamic Adaptive Optimization (arXiv 2408.11856): multi-task financial sentiment.

Regression (score in [-1, 1]) and 5-class classification share a LoRA-tuned encoder;
a small learned module re-weights the two losses every step.
"""

from adaptune.method import Method, lazy

from .config import METRICS, DAOConfig

_HERE = __name__  # this package: hooks are imported from its modules on first use

METHOD = Method(
    name="dao",
    config_cls=DAOConfig,
    build_data=lazy(f"{_HERE}.step:build_data"),
    build_model=lazy(f"{_HERE}.model:build_model"),
    build_optimizers=lazy(f"{_HERE}.step:build_optimizers"),
    train_step=lazy(f"{_HERE}.step:train_step"),
    evaluate=lazy(f"{_HERE}.step:evaluate"),
    save_model=lazy(f"{_HERE}.predict:save_model"),
    load_predictor=lazy(f"{_HERE}.predict:load_predictor"),
    metric="val/mse",
    mode="min",
    metrics=METRICS,
    compare_metrics=("val/mse", "val/r2", "val/acc", "val/f1"),
    step_series=lazy(f"{_HERE}.step:step_series"),
    input_example=["The euro rallied after the ECB signalled more rate hikes."],
    description="multi-task financial sentiment, LoRA encoder, learned loss weighting",
    data_sources=("synthetic-finsent", "file", "hf"),
    data_options=("noise",),
    data_columns=(("text", "text"), ("score", "score")),
)

__all__ = ["METHOD", "DAOConfig"]
