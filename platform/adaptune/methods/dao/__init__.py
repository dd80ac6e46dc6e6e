"""DAO — Dynamic Adaptive Optimization (arXiv 2408.11856): multi-task financial sentiment.

Regression (score in [-1, 1]) and 5-class classification share a LoRA-tuned encoder;
a small learned module re-weights the two losses every step.
"""

from adaptune.method import Method
from adaptune.methods.dao.config import DAOConfig
from adaptune.methods.dao.model import build_model
from adaptune.methods.dao.predict import load_predictor, save_model
from adaptune.methods.dao.step import (
    METRICS,
    build_data,
    build_optimizers,
    evaluate,
    train_step,
)

METHOD = Method(
    name="dao",
    config_cls=DAOConfig,
    build_data=build_data,
    build_model=build_model,
    build_optimizers=build_optimizers,
    train_step=train_step,
    evaluate=evaluate,
    save_model=save_model,
    load_predictor=load_predictor,
    metric="val/mse",
    mode="min",
    metrics=METRICS,
    description="multi-task financial sentiment, LoRA encoder, learned loss weighting",
)

__all__ = ["METHOD", "DAOConfig"]
