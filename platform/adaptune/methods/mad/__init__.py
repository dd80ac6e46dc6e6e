"""MAD — Modulation Adapters (arXiv 2307.08528): multi-domain learning on a frozen CNN.

Per domain, every conv filter kernel of a shared frozen ResNet-26 is scaled by an
adapter alpha_d (full M x N, or factorised rank I), with domain BatchNorm and heads.

    adaptune search jobs/mad_digits.yaml
"""

from adaptune.method import Method, lazy
from adaptune.methods.mad.config import METRICS, MADConfig

_HERE = __name__  # this package: hooks are imported from its modules on first use

METHOD = Method(
    name="mad",
    config_cls=MADConfig,
    build_data=lazy(f"{_HERE}.step:build_data"),
    build_model=lazy(f"{_HERE}.model:build_model"),
    build_optimizers=lazy(f"{_HERE}.step:build_optimizers"),
    train_step=lazy(f"{_HERE}.step:train_step"),
    evaluate=lazy(f"{_HERE}.step:evaluate"),
    save_model=lazy(f"{_HERE}.predict:save_model"),
    load_predictor=lazy(f"{_HERE}.predict:load_predictor"),
    metric="val/acc",
    mode="max",
    metrics=METRICS,
    description="modulation adapters (full or rank I) on a frozen ResNet-26, per-domain BN/heads",
    train_loader=lazy(f"{_HERE}.step:train_loader"),
    search_report=lazy(f"{_HERE}.report:search_report"),
)

__all__ = ["METHOD", "MADConfig"]
