"""DAMA — Dynamic Domain Information Modulation (arXiv 2505.06630): multi-domain sentiment.

An xLSTM base (embeddings -> xLSTM stack -> pooled vector -> domain and sentiment heads)
is trained on L_s + gamma * L_d (stage 1); stage 2 freezes it and learns one lambda per
domain that moves the input embeddings along the domain-loss gradient, scaled per epoch
by the paper's validation-based Algorithm 1.

    adaptune search jobs/dama_stage1.yaml     # then stage 2 with init_from: <stage-1 model>
"""

from adaptune.method import Method, lazy

from .config import METRICS, DAMAConfig

_HERE = __name__  # this package: hooks are imported from its modules on first use

METHOD = Method(
    name="dama",
    config_cls=DAMAConfig,
    build_data=lazy(f"{_HERE}.step:build_data"),
    build_model=lazy(f"{_HERE}.predict:build_model"),
    build_optimizers=lazy(f"{_HERE}.step:build_optimizers"),
    train_step=lazy(f"{_HERE}.step:train_step"),
    evaluate=lazy(f"{_HERE}.step:evaluate"),
    save_model=lazy(f"{_HERE}.predict:save_model"),
    load_predictor=lazy(f"{_HERE}.predict:load_predictor"),
    metric="val/acc",
    mode="max",
    metrics=METRICS,
    compare_metrics=("val/acc", "val/domain_acc"),
    input_example=[{"text": "long battery life and a sharp screen", "domain": "electronics"}],
    description="multi-domain sentiment, xLSTM base, per-domain input modulation (2 stages)",
    data_sources=("synthetic-multidomain", "fdu-mtl", "file", "hf"),
    data_options=(
        "preset",
        "domains",
        "ambiguous_share",
        "label_noise",
        "length",
        "dev_per_domain",
        "test_per_domain",
        "spurious_strength",
        "generic_share",
        "topic_share",
    ),
    data_columns=(("text", "text"), ("label", "class"), ("domain", "name")),
    evaluate_test=lazy(f"{_HERE}.step:evaluate_test"),
    job_report=lazy(f"{_HERE}.report:job_report"),
)

__all__ = ["METHOD", "DAMAConfig"]
