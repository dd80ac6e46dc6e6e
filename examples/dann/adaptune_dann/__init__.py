"""DANN, domain-adversarial training (Ganin et al., JMLR 2016), as an adaptune method.

A shared encoder feeds a sentiment head and, through a gradient-reversal layer (GRL), a
domain classifier: the domain head learns to tell the review's domain from the features,
while the reversed gradient pushes the encoder towards features it cannot tell apart
(domain-invariant), weighted by lambda_p = grl_lambda * (2 / (1 + exp(-10 p)) - 1) over
the training progress p. Data: adaptune's synthetic multi-domain sentiment corpus (the
one DAMA trains on), tokenised as DAMA tokenises it; the encoder is an embedding bag and
a small MLP, so a trial takes seconds on a CPU.

    pip install -e examples/dann
    adaptune methods                               # dann, from package adaptune-dann
    adaptune search examples/dann/job.yaml
"""

from adaptune.method import Method, Mode, lazy
from adaptune_dann.config import METRICS, DANNConfig

METHOD = Method(
    name="dann",
    config_cls=DANNConfig,
    # lazy: listing methods or validating a job imports no torch
    build_data=lazy("adaptune_dann.step:build_data"),
    build_model=lazy("adaptune_dann.predict:build_model"),
    build_optimizers=lazy("adaptune_dann.step:build_optimizers"),
    train_step=lazy("adaptune_dann.step:train_step"),
    evaluate=lazy("adaptune_dann.step:evaluate"),
    save_model=lazy("adaptune_dann.predict:save_model"),
    load_predictor=lazy("adaptune_dann.predict:load_predictor"),
    metric="val/acc",
    mode=Mode.MAX,
    metrics=METRICS,
    compare_metrics=("val/acc", "val/domain_acc"),
    input_example=[{"text": "long battery life and a sharp screen"}],
    description="multi-domain sentiment, DANN: gradient reversal + domain classifier",
    data_sources=("synthetic-multidomain",),
    data_options=("domains", "ambiguous_share", "label_noise", "length"),
)

__all__ = ["METHOD", "DANNConfig"]
