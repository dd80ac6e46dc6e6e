"""adaptune: Ray Tune + Optuna + ASHA searches over four domain-adaptation methods,
every trial a Ray Train run, every run recorded in MLflow."""

__version__ = "0.1.0"
__all__ = ["__version__"]
