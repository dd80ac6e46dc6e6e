"""DAMA — Dynamic Domain Information Modulation (arXiv 2505.06630): multi-domain sentiment.

An xLSTM base (embeddings -> xLSTM stack -> pooled vector -> domain and sentiment heads)
is trained on L_s + gamma * L_d (stage 1); stage 2 freezes it and learns one lambda per
domain that moves the input embeddings along the domain-loss gradient, scaled per epoch
by the paper's validation-based Algorithm 1.

    adaptune search jobs/dama_stage1.yaml     # then stage 2 with init_from: <stage-1 model>
"""

from adaptune.method import Method, Mode
from adaptune.methods.hooks import hooks

from .config import METRICS, DAMAConfig

METHOD = Method(
    name="dama",
    config_cls=DAMAConfig,
    **hooks(
        __name__,
        build_model="predict",
        evaluate_test="step",
        job_report="report",
        read_splits="step",
    ),
    metric="val/acc",
    mode=Mode.MAX,
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
    data_option_ranges={
        **dict.fromkeys(
            ("ambiguous_share", "label_noise", "spurious_strength", "generic_share", "topic_share"),
            (0.0, 1.0),
        ),
        **dict.fromkeys(("dev_per_domain", "test_per_domain"), (1, 100_000)),
    },
    data_columns=(("text", "text"), ("label", "class"), ("domain", "name")),
)

__all__ = ["METHOD", "DAMAConfig"]
