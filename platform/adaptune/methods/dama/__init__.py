"""DAMA — Dynamic Domain Information Modulation (arXiv 2505.06630): multi-domain sentiment.

An xLSTM base (embeddings -> xLSTM stack -> pooled vector -> domain and sentiment heads)
is trained on L_s + gamma * L_d (stage 1); stage 2 freezes it and learns one lambda per
domain that moves the input embeddings along the domain-loss gradient, scaled per epoch
by the paper's validation-based Algorithm 1.

    adaptune search jobs/dama_stage1.yaml     # then stage 2 with init_from: <stage-1 model>
"""

from adaptune.method import Method
from adaptune.methods.dama.config import DAMAConfig
from adaptune.methods.dama.predict import build_model, load_predictor, save_model
from adaptune.methods.dama.step import (
    METRICS,
    build_data,
    build_optimizers,
    evaluate,
    train_step,
)

METHOD = Method(
    name="dama",
    config_cls=DAMAConfig,
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
    description="multi-domain sentiment, xLSTM base, per-domain input modulation (2 stages)",
)

__all__ = ["METHOD", "DAMAConfig"]
