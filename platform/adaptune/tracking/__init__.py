"""MLflow, knowing nothing of Tune: the store, secret scrubbing, names, promotion, the
write-behind outbox and the served model.

    from adaptune import tracking
    client = tracking.setup(tracking.resolve_uri(None, state_dir))
"""

from adaptune.tracking.names import Kind, Status, Tag
from adaptune.tracking.promotion import Promotion, promote
from adaptune.tracking.scrub import scrub, secret_values
from adaptune.tracking.store import (
    child_runs,
    cli_flags,
    default_state_dir,
    ensure_experiment,
    fail_fast,
    find_run,
    log_params,
    log_trial_model,
    metric_batch,
    mlflow_env,
    resolve_uri,
    series_batch,
    setup,
    trial_runs,
)

__all__ = [
    "Kind",
    "Promotion",
    "Status",
    "Tag",
    "child_runs",
    "cli_flags",
    "default_state_dir",
    "ensure_experiment",
    "fail_fast",
    "find_run",
    "log_params",
    "log_trial_model",
    "metric_batch",
    "mlflow_env",
    "promote",
    "resolve_uri",
    "scrub",
    "secret_values",
    "series_batch",
    "setup",
    "trial_runs",
]
