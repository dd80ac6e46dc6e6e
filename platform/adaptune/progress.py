"""A Tune callback in the search driver: live progress lines and the MLflow trial runs.

One nested run per trial, named by its trial id: params = the full resolved config,
per-epoch metrics with step = epoch, and a final status tag (completed / stopped by
ASHA at epoch k / errored). Completed trials log their model.
"""

from __future__ import annotations

import sys
import time
from typing import Any

from mlflow import MlflowClient
from ray.tune import Callback

from adaptune.plan import Plan
from adaptune.tracking import TAG, log_metrics, log_params, log_trial_model, scrub


def _fmt(v: Any) -> str:
    return f"{v:.4g}" if isinstance(v, float) else str(v)


class SearchCallback(Callback):
    def __init__(
        self,
        plan: Plan,
        client: MlflowClient,
        experiment_id: str,
        parent_run_id: str,
        search: str,
        known: dict[str, str] | None = None,
    ):
        self.plan, self.client = plan, client
        self.experiment_id, self.parent = experiment_id, parent_run_id
        self.search = search
        # trial id -> MLflow run id; a resumed search starts with the runs it already has,
        # and a restarted trial continues its run instead of opening a second one.
        self.runs: dict[str, str] = dict(known or {})
        self.reopen: set[str] = set(self.runs)
        self.trials: dict[str, Any] = {}  # trial id -> Tune Trial
        self.outcome: dict[str, str] = {}  # trial id -> completed | stopped | errored
        self.best: float | None = None
        self.start = time.monotonic()

    def _say(self, text: str) -> None:
        elapsed = time.monotonic() - self.start
        print(
            f"[{int(elapsed // 60):02d}:{int(elapsed % 60):02d}] {text}",
            file=sys.stdout,
            flush=True,
        )

    def on_trial_start(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        self.trials[trial.trial_id] = trial
        if trial.trial_id in self.reopen:
            self.reopen.discard(trial.trial_id)
            run_id = self.runs[trial.trial_id]
            self.client.update_run(run_id, status="RUNNING")
            self.client.set_tag(run_id, f"{TAG}status", "running")
            self._say(f"{trial.trial_id} resumed")
            return
        if trial.trial_id in self.runs:
            return
        run = self.client.create_run(
            self.experiment_id,
            run_name=trial.trial_id,
            tags={
                "mlflow.parentRunId": self.parent,
                f"{TAG}trial_id": trial.trial_id,
                f"{TAG}method": self.plan.method.name,
                f"{TAG}search": self.search,
                f"{TAG}status": "running",
            },
        )
        self.runs[trial.trial_id] = run.info.run_id
        log_params(self.client, run.info.run_id, self.plan.resolved(trial.config))
        shown = ", ".join(f"{k}={_fmt(v)}" for k, v in trial.config.items())
        self._say(f"{trial.trial_id} started: {shown}")

    def on_trial_result(
        self, iteration: int, trials: list, trial: Any, result: dict, **info: Any
    ) -> None:
        epoch = int(result.get("epoch", 0))
        run_id = self.runs.get(trial.trial_id)
        if run_id:
            log_metrics(self.client, run_id, result, step=epoch)
            if epoch == 1 and result.get("node_id"):  # where rank 0 ran
                self.client.set_tag(run_id, f"{TAG}node_id", str(result["node_id"]))
        value = result.get(self.plan.metric)
        if isinstance(value, float) and (
            self.best is None
            or (value < self.best if self.plan.mode == "min" else value > self.best)
        ):
            self.best = value
        self._say(
            f"{trial.trial_id} epoch {epoch}/{result.get('epochs', '?')} "
            f"{self.plan.metric}={_fmt(value)} (best {_fmt(self.best)})"
        )

    def on_trial_complete(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        result = trial.last_result or {}
        epoch, epochs = int(result.get("epoch", 0)), int(result.get("epochs", 0))
        run_id = self.runs.get(trial.trial_id)
        if epochs and epoch >= epochs:
            self.outcome[trial.trial_id] = "completed"
            status = "completed"
            if run_id and result.get("checkpoint_path"):
                uri = _log_checkpoint(run_id, str(result["checkpoint_path"]))
                self.client.set_tag(run_id, f"{TAG}model_uri", uri)
        else:
            self.outcome[trial.trial_id] = "stopped"
            status = f"stopped by ASHA at epoch {epoch}"
        self._finish(trial, status, "FINISHED" if status == "completed" else "KILLED")

    def on_trial_error(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        self.trials[trial.trial_id] = trial
        self.outcome[trial.trial_id] = "errored"
        self._finish(trial, "errored", "FAILED")

    def _finish(self, trial: Any, status: str, run_status: str) -> None:
        run_id = self.runs.get(trial.trial_id)
        if run_id:
            self.client.set_tag(run_id, f"{TAG}status", status)
            if status == "errored" and trial.error_file:
                self.client.set_tag(run_id, f"{TAG}error", _error_text(trial.error_file))
            self.client.set_terminated(run_id, run_status)
        self._say(f"{trial.trial_id} {status}")


def _log_checkpoint(run_id: str, path: str) -> str:
    """Log a trial's final checkpoint as its model; remote storage is fetched first."""
    if "://" not in path:
        return log_trial_model(run_id, path)
    import tempfile

    from ray.train import Checkpoint

    with tempfile.TemporaryDirectory() as tmp:
        return log_trial_model(run_id, Checkpoint(path).to_directory(tmp))


def _error_text(path: str, limit: int = 4000) -> str:
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            text = f.read()
    except OSError:
        return "see the trial's error file"
    lines = [ln for ln in scrub(text).strip().splitlines() if ln.strip()]  # scrub, then cut
    return "\n".join(lines[-12:])[-limit:]
