"""A Tune callback in the search driver: live progress lines and the MLflow trial runs.

One nested run per trial, named by its trial id: params = the full resolved config,
per-epoch metrics with step = epoch, and a final status tag (completed / stopped by
ASHA at epoch k / errored). After the decision, the trials `tracking.log_models` keeps
log their model (driver/kept.py: the others' checkpoints go as soon as they end).

Every MLflow write goes through an Outbox (adaptune.tracking.outbox): in order per run, failing
fast, and queued and retried while the tracking server is down, so an MLflow outage
never stops or slows the search; run_search drains it at the end.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from mlflow import MlflowClient
from mlflow.entities import RunTag
from ray.tune import Callback

from adaptune.driver.background import warmed
from adaptune.driver.console import CONSOLE
from adaptune.driver.cost import Pricer
from adaptune.driver.disk import DiskWatch
from adaptune.driver.interrupt import Stop
from adaptune.driver.kept import Kept
from adaptune.driver.ledger import Ledger, outcome_of
from adaptune.driver.presenter import Presentation, run_name, search_note, shared_view
from adaptune.driver.results import short
from adaptune.method import TEST_PREFIX
from adaptune.plan import Plan
from adaptune.tracking import log_params, log_trial_model, metric_batch, scrub, series_batch
from adaptune.tracking.names import SHARED_VIEW_PREFIX, Cost, Kind, Status, Tag
from adaptune.tracking.outbox import Outbox, catch_up_seconds
from adaptune.train import report as rk

SEARCH_RUN = "<search>"  # the outbox lane of the search's own run


class SearchRecorder(Callback):
    def __init__(
        self,
        plan: Plan,
        client: MlflowClient,
        experiment_id: str,
        parent_run_id: str,
        search: str,
        known: dict[str, str] | None = None,
        kind: str = Kind.TRIAL,
        pricer: Pricer | None = None,
        *,
        box: Outbox | None = None,
        ledger: Ledger | None = None,
        stop: Stop | None = None,
        total: int | None = None,
    ):
        """Writes MLflow through `box` and records each trial in `ledger` (driver/ledger.py:
        what the decision and the end of the search read); asks `stop` to end the search
        early when the disk runs low (driver/interrupt.py)."""
        self.plan, self.client = plan, client
        self.experiment_id, self.parent = experiment_id, parent_run_id
        self.search = search
        self.kind = kind  # trial, or rerun for the seeded re-runs of the best config
        kind = plan.job.the_search.scheduler.type  # in "stopped by <scheduler> at epoch k"
        self.scheduler = {"hyperband": "HyperBand", "median": "median stopping"}.get(
            kind, kind.upper()
        )
        self.start = time.monotonic()
        # One lane per MLflow run, keyed by trial id; a resumed search starts with the runs
        # it already has, and a restarted trial continues its run instead of opening a
        # second one.
        self.box = box or Outbox(say=self._say)
        self.box.adopt(SEARCH_RUN, parent_run_id, "search run")
        self.ledger = ledger if ledger is not None else Ledger()
        for trial_id, run_id in (known or {}).items():
            self.box.adopt(trial_id, run_id, f"trial {trial_id}")
            self.ledger.entry(trial_id).run_id = run_id
        self.reopen: set[str] = set(known or {})
        self.kept = Kept(plan, self.kind)  # whose checkpoint stays, whose model is logged
        self.disk: DiskWatch | None = None  # free space, once a trial names its storage
        self.stop = stop if stop is not None else Stop()
        self.pricer = pricer  # each ended trial's cost (driver/cost.py), if given
        self.best: float | None = None
        # names, notes, rounded params, ASHA's cutoffs, progress and events (presenter.py)
        self.show = Presentation(plan, search, self.scheduler, resumed=bool(known), total=total)
        if self.kind == Kind.TRIAL:  # MLflow UI's saved view of this search's trials
            view = json.dumps(shared_view(search, plan.metric, plan.mode, plan.space))
            key = SHARED_VIEW_PREFIX + search
            self.box.write(
                SEARCH_RUN,
                "runs view",
                lambda r: client.set_experiment_tag(experiment_id, key, view),
            )
        if not CONSOLE.configured:  # outside the CLI: the clock starts with the search
            CONSOLE.start = self.start

    def _say(self, text: str) -> None:
        CONSOLE.say(text)  # "[mm:ss] text", unless --quiet

    def on_step_end(self, iteration: int, trials: list, **info: Any) -> None:
        self.box.pump()  # catch up as soon as MLflow is back, even between trial events
        self.show.show_progress()  # the live line's clock and ETA (on a terminal)
        if self.disk is None and trials:
            paths = [*local_path(storage_of(trials[0])), *self.artifact_dirs()]
            self.disk = DiskWatch(paths)
        if self.disk is not None and (low := self.disk.check()):
            self.stop.request(low)  # Tune stops at its next step: `adaptune resume` goes on

    def artifact_dirs(self) -> list[str]:
        """The experiment's artifact folder, when MLflow keeps artifacts on this disk."""
        try:
            location = str(self.client.get_experiment(self.experiment_id).artifact_location)
        except Exception:  # MLflow down: the outbox handles writes; nothing to watch
            return []
        return local_path(location)

    def on_trial_start(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        self.ledger.entry(trial.trial_id).trial = trial
        box, trial_id = self.box, trial.trial_id
        if trial_id in self.reopen:
            self.reopen.discard(trial_id)
            self.show.config[trial_id] = dict(trial.config)  # for its note
            box.write(trial_id, "reopen", lambda r: self.client.update_run(r, status="RUNNING"))
            box.write(trial_id, "status tag", lambda r: self._tag(r, Tag.STATUS, Status.RUNNING))
            self._say(f"{trial_id} resumed")
            return
        if box.has(trial_id):
            return
        tags = {
            "mlflow.parentRunId": self.parent,
            Tag.KIND: self.kind,
            Tag.TRIAL_ID: trial_id,
            Tag.METHOD: self.plan.method.name,
            Tag.SEARCH: self.search,
            Tag.STATUS: Status.RUNNING,
            Tag.SEARCHED: ",".join(self.plan.space),
        }
        rounded, tags[Tag.NOTE] = self.show.started(trial_id, trial.config)
        name = run_name(trial_id, Status.RUNNING)
        box.open_run(
            trial_id,
            f"trial {trial_id}",
            create=lambda: self._opened(
                trial_id, self.client.create_run(self.experiment_id, run_name=name, tags=tags)
            ),
            find=lambda: self._find_run(trial_id),
        )
        params = {**self.plan.resolved(trial.config), **rounded}
        box.write(trial_id, "params", lambda r: log_params(self.client, r, params))
        shown = ", ".join(f"{k}={short(v)}" for k, v in trial.config.items())
        self._say(f"{trial_id} started: {shown}")

    def on_trial_result(
        self, iteration: int, trials: list, trial: Any, result: dict, **info: Any
    ) -> None:
        epoch = int(result.get(rk.EPOCH, 0))
        scored = {k: v for k, v in result.items() if k.startswith(TEST_PREFIX)}
        if scored:  # the finished model's test score: recorded for the chosen trial only
            self.ledger.entry(trial.trial_id).test = scored
            if self.kind == Kind.TRIAL:
                result = {k: v for k, v in result.items() if k not in scored}
        metrics = self.show.result(trial.trial_id, result)  # without Ray's bookkeeping
        series = series_batch(result.get(rk.STEP_SERIES) or {})
        if series and self.box.has(trial.trial_id):
            self.box.write(
                trial.trial_id, "step series", lambda r: self.client.log_batch(r, metrics=series)
            )
        if self.box.has(trial.trial_id):
            batch = metric_batch(metrics, step=epoch)  # stamped now, whenever it is written
            self.box.write(
                trial.trial_id,
                "metric write",
                lambda r: self.client.log_batch(r, metrics=batch),
                done=lambda r: batch and _logged(self.client, r, batch[0].key, epoch),
            )
            if epoch == 1 and result.get(rk.NODE_ID):  # where rank 0 ran
                node = str(result[rk.NODE_ID])
                self.box.write(
                    trial.trial_id, "node_id tag", lambda r: self._tag(r, Tag.NODE_ID, node)
                )
            self._node(trial.trial_id, str(result.get(rk.NODE_ID) or ""))
        value = result.get(self.plan.metric)
        if isinstance(value, float) and (
            self.best is None or self.plan.mode.better(value, self.best)
        ):
            self.best = value
        self._say(
            f"{trial.trial_id} epoch {epoch}/{result.get(rk.EPOCHS, '?')} "
            f"{self.plan.metric}={short(value)} (best {short(self.best)})"
        )

    def on_trial_complete(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        result = trial.last_result or {}
        status = outcome_of(trial)
        self._finish(trial, status, int(result.get(rk.EPOCH, 0)))
        self.kept.ended(trial, status, trials)  # checkpoints no model will be logged from

    def log_models(self, best_trial: str | None, trials: list[Any]) -> list[str]:
        """Queue the model writes of the trials log_models keeps (the chosen one first);
        returns their trial ids."""
        wanted = [t for t in self.kept.wanted(best_trial, trials) if self.box.has(t.trial_id)]
        for t in wanted:
            writer = self._model_writer(t.trial_id, t.last_result or {})
            self.box.write(t.trial_id, "model", writer)
        return [t.trial_id for t in wanted]

    def on_trial_error(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        self.ledger.entry(trial.trial_id).trial = trial
        self._finish(trial, outcome_of(trial, errored=True), None)

    def _finish(self, trial: Any, status: Status, epoch: int | None) -> None:
        self.ledger.entry(trial.trial_id).status = status
        box, trial_id = self.box, trial.trial_id
        text = status.text(epoch, self.scheduler)
        errored = status is Status.ERRORED and trial.error_file
        error = _error_text(trial.error_file) if errored else ""
        name, note, words = self.show.ended(trial_id, status, text, epoch, error)
        # Only an error is a failed run: a trial the scheduler stopped ended normally.
        run_status = "FAILED" if status is Status.ERRORED else "FINISHED"
        if box.has(trial_id):
            tags: dict[str, Any] = {Tag.STATUS: status, Tag.STATUS_TEXT: text}
            if status is Status.STOPPED and epoch is not None:
                tags[Tag.STOPPED_AT] = epoch
            tags[Tag.NOTE] = note
            box.write(trial_id, "status tag", lambda r: self._tags(r, tags))
            if error:
                box.write(trial_id, "error tag", lambda r: self._tag(r, Tag.ERROR, error))
            self.cost(trial, status, epoch)
            box.write(trial_id, "run name", lambda r: self.client.update_run(r, name=name))
            box.write(trial_id, "run end", lambda r: self.client.set_terminated(r, run_status))
        self._say(f"{trial_id} {words}")
        self.show.show_progress(ended=True)

    def interrupted(self, trials: list[Any], why: str, *, search_too: bool) -> int:
        """A stop (a signal, low disk space: `why`) ended Tune's loop: the runs of the trials
        it left unfinished (Tune restarts them from their checkpoint on resume) and, if
        `search_too`, the search run are marked interrupted and closed as KILLED. Returns
        how many trials ended."""
        unfinished = [t for t in trials if self._unfinished(t)]
        text = f"interrupted ({why}); a resume restarts it from its last checkpoint"
        tags: dict[str, Any] = {Tag.STATUS: Status.INTERRUPTED, Tag.STATUS_TEXT: text}
        for trial in unfinished:
            self.ledger.entry(trial.trial_id).status = Status.INTERRUPTED
            if self.box.has(trial.trial_id):
                self._close(trial.trial_id, tags, run_name(trial.trial_id, Status.INTERRUPTED))
        if search_too:
            note = f"interrupted ({why}): resumable; nothing was decided or promoted"
            self.box.write(SEARCH_RUN, "note", lambda r: self._tag(r, Tag.NOTE, note))
            self.box.write(SEARCH_RUN, "run end", lambda r: self.client.set_terminated(r, "KILLED"))
        self.box.drain(catch_up_seconds())
        self._say(f"{why}: {len(unfinished)} unfinished trials left resumable; their runs say so")
        return len(trials) - len(unfinished)

    def _close(self, trial_id: str, tags: dict[str, Any], name: str) -> None:
        self.box.write(trial_id, "status tag", lambda r: self._tags(r, tags))
        self.box.write(trial_id, "run name", lambda r: self.client.update_run(r, name=name))
        self.box.write(trial_id, "run end", lambda r: self.client.set_terminated(r, "KILLED"))

    def _unfinished(self, trial: Any) -> bool:
        """Started this session and not ended (Tune's clean-up marks such a trial
        TERMINATED), or never started (pending, or paused by its scheduler)."""
        entry = self.ledger.entries.get(trial.trial_id)
        if entry is not None and entry.trial is not None:
            return entry.status is None
        return trial.status not in ("TERMINATED", "ERROR")

    def cost(self, trial: Any, status: Status, epoch: int | None) -> None:
        """The trial's cost ledger entry: its node type, hours and USD, as tags (one value
        each: as metrics, every trial page opened on single-point charts)."""
        if self.pricer is None:
            return
        spent = self.pricer.cost(trial.last_result or {}, status is Status.STOPPED)
        self.ledger.entry(trial.trial_id).cost = spent
        tags = {Cost.NODE_TYPE: spent.node_type, Cost.HOURS: spent.hours, Cost.USD: spent.usd}
        self.box.write(trial.trial_id, "cost", lambda r: self._tags(r, tags))

    def _node(self, trial_id: str, node: str) -> None:
        """Once a restart moved the trial (its node died: a spot reclaim), tag every node
        it ran on, in order; one node is the node_id tag's alone."""
        seen = self.ledger.entry(trial_id).nodes
        if node and (not seen or seen[-1] != node):
            seen.append(node)
            if len(seen) > 1:
                text = ",".join(seen)
                write = lambda r: self._tag(r, Tag.NODE_IDS, text)  # noqa: E731
                self.box.write(trial_id, "node_ids tag", write)

    def mark_best(self, trial_id: str | None) -> None:
        """Name the best trial's run so it stands out in the runs table."""
        if trial_id and self.box.has(trial_id):
            name = run_name(trial_id, Status.COMPLETED, best=True)
            self.box.write(trial_id, "best name", lambda r: self.client.update_run(r, name=name))

    def describe(self, summary: Any, alias: str, report: Path) -> None:
        """At the end: the search run's note (its summary in Markdown) and the best
        trial's run name."""
        self.mark_best(summary.best_trial)
        note = search_note(
            summary,
            method=self.plan.method.name,
            scheduler=self.scheduler,
            experiment_id=self.experiment_id,
            alias=alias,
            report=str(report) if report.exists() else None,
        )
        self.box.write(SEARCH_RUN, "note", lambda r: self._tag(r, Tag.NOTE, note))

    def _tag(self, run_id: str, key: str, value: Any) -> None:
        self.client.set_tag(run_id, key, str(value))

    def _tags(self, run_id: str, tags: dict[str, Any]) -> None:
        batch = [RunTag(k, str(v)) for k, v in tags.items()]
        self.client.log_batch(run_id, tags=batch)

    def _model_writer(self, trial_id: str, result: dict[str, Any]) -> Any:
        """Log the trial's model, then tag its URI; a retry does not log it twice."""
        path = str(result[rk.CHECKPOINT_PATH])
        extras = {  # its signature; at its last epoch, whose metrics MLflow links to it
            "input_example": self.plan.method.input_example,
            "step": int(result.get(rk.EPOCH, 0)),
        }

        def write(run_id: str) -> None:
            entry = self.ledger.entry(trial_id)
            if entry.model_uri is None:  # logged before a resume: not twice
                logged = self.client.get_run(run_id).data.tags.get(Tag.MODEL_URI)
                entry.model_uri = logged or _log_checkpoint(run_id, path, extras)
            self._tag(run_id, Tag.MODEL_URI, entry.model_uri)

        return write

    def _find_run(self, trial_id: str) -> str | None:
        """The trial's run if an attempt to create it got through after all."""
        runs = self.client.search_runs(
            [self.experiment_id],
            filter_string=f"tags.mlflow.parentRunId = '{self.parent}' "
            f"and tags.`{Tag.TRIAL_ID}` = '{trial_id}'",
            max_results=1,
        )
        return self._opened(trial_id, runs[0]) if runs else None

    def _opened(self, trial_id: str, run: Any) -> str:
        run_id = self.ledger.entry(trial_id).run_id = str(run.info.run_id)
        return run_id

    def drop_checkpoints(self, trials: list[Any], keep: set[str]) -> None:
        """The search is over: the checkpoints no one reads again go (driver/kept.py)."""
        self.kept.drop_rest(trials, keep)


def local_path(location: str) -> list[str]:
    """[the folder] of a local path or file:// URI; [] for remote storage or none."""
    from urllib.parse import urlparse
    from urllib.request import url2pathname

    parsed = urlparse(location)
    if not location or parsed.scheme not in ("", "file"):
        return []
    return [url2pathname(parsed.path) if parsed.scheme else location]


def storage_of(trial: Any) -> str:
    """The local Ray storage folder a Tune trial writes under ("" for remote storage)."""
    storage = getattr(trial, "storage", None)
    fs = getattr(storage, "storage_filesystem", None)
    if fs is None or getattr(fs, "type_name", "") != "local":
        return ""
    return str(getattr(storage, "storage_fs_path", "") or "")


def _logged(client: MlflowClient, run_id: str, key: str, step: int) -> bool:
    """Whether `key` has a value at `step` already (a batch is written whole or not at all)."""
    return any(m.step == step for m in client.get_metric_history(run_id, key))


def _log_checkpoint(run_id: str, path: str, extras: dict[str, Any]) -> str:
    """Log a trial's final checkpoint as its model; remote storage is fetched first."""
    warmed()  # MLflow's pyfunc flavour: not imported from two threads at once
    if "://" not in path:
        return log_trial_model(run_id, path, **extras)
    import tempfile

    from ray.train import Checkpoint

    with tempfile.TemporaryDirectory() as tmp:
        return log_trial_model(run_id, Checkpoint(path).to_directory(tmp), **extras)


def _error_text(path: str, limit: int = 4000) -> str:
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            text = f.read()
    except OSError:
        return "see the trial's error file"
    lines = [ln for ln in scrub(text).strip().splitlines() if ln.strip()]  # scrub, then cut
    return "\n".join(lines[-12:])[-limit:]
