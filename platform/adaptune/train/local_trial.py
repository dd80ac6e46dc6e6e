"""Single-worker trials without a worker group: the loop runs in the Tune trial actor.

    train = train_api(config)          # in worker.py: ray.train, or the stand-in below
    run_in_actor(train_loop_per_worker, config, run_name=..., storage_path=...)

For each trial, Ray Train V2 starts a controller actor, a synchronisation actor, a
placement-group cleaner and the worker actor (four fresh processes that each import Ray,
the worker also torch and the method), then polls the workers every 2 s: ~20 of the
~25 s of overhead a trivial trial had on a 2-core CPU (benchmarks/trial_overhead.py). A trial of
one worker needs none of it: its Tune trial actor holds the worker's CPU/GPU and runs
train_loop_per_worker itself, and Tune reuses the actor for the next trial.

Ray Train's semantics are kept through `InActorTrain`, which stands in for the few
``ray.train`` calls the loop makes (Ray refuses those inside a Tune trial): world size
1, rank 0; the model and batches on the actor's device (its GPU when it holds one); a
reported checkpoint is persisted under the same Train run folder (`<storage>/<search>-
<trial>/checkpoint_*`, the newest one kept) and its path handed to Tune with the
metrics, exactly as TuneReportCallback does. Failures: Tune restarts the trial
(``FailureConfig(max_failures=trial_retries)`` on the Tuner, set by sweep.py) after an
error in the loop or the death of its actor process, and the loop goes on from the last
checkpoint Tune took (named in the run folder's `adaptune_latest_checkpoint`), as a
restarted worker group goes on from the last checkpoint its controller registered.
"""

from __future__ import annotations

from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

from adaptune.train import report as rk

__all__ = ["IN_ACTOR", "InActorTrain", "run_in_actor", "train_api"]

IN_ACTOR = "in_actor"  # train_loop_config key: the InActorTrain, set by run_in_actor
LATEST = "adaptune_latest_checkpoint"  # in the run folder: the name of the newest one


def train_api(config: dict[str, Any]) -> Any:
    """The ``ray.train`` calls the worker loop makes: Ray's own in a worker group, the
    stand-in in a trial actor (config[IN_ACTOR], set by run_in_actor)."""
    if config.get(IN_ACTOR) is not None:
        return config[IN_ACTOR]
    import ray.train
    import ray.train.torch

    return SimpleNamespace(
        Checkpoint=ray.train.Checkpoint,
        get_context=ray.train.get_context,
        get_checkpoint=ray.train.get_checkpoint,
        report=ray.train.report,
        prepare_model=ray.train.torch.prepare_model,
        prepare_data_loader=ray.train.torch.prepare_data_loader,
    )


class _Context:
    def get_world_rank(self) -> int:
        return 0

    def get_world_size(self) -> int:
        return 1


class InActorTrain:
    """ray.train for one worker that is the Tune trial actor itself."""

    def __init__(self, run_name: str, storage_path: str):
        import torch
        from ray.train import Checkpoint

        from adaptune.train.upstream import storage_context

        self.Checkpoint = Checkpoint
        self._storage = storage_context(storage_path, run_name)
        # The newest persisted checkpoint: set when this trial is a restart of one that
        # failed (its run folder is the trial's own), then after every report.
        self._checkpoint: Any = self._newest_checkpoint()
        self.device = (
            torch.device("cuda", torch.cuda.current_device())
            if torch.cuda.is_available()
            else torch.device("cpu")
        )

    def get_context(self) -> _Context:
        return _Context()

    def get_checkpoint(self) -> Any:
        return self._checkpoint

    def prepare_model(self, model: Any) -> Any:
        return model.to(self.device)

    def prepare_data_loader(self, loader: Any, add_dist_sampler: bool = True) -> Any:
        if self.device.type == "cpu":
            return loader
        from adaptune.train.upstream import device_loader

        return device_loader(loader, self.device)

    def report(self, metrics: dict[str, Any], checkpoint: Any = None) -> None:
        from ray import tune

        out = dict(metrics)
        path = None
        if checkpoint is not None:
            name = self._storage.make_default_checkpoint_dir_name()
            path = self._storage.persist_current_checkpoint(checkpoint, name).path
            out[rk.CHECKPOINT_PATH] = path
        try:
            tune.report(out)  # returns once Tune took the result (synchronous reporting)
        except SystemExit:  # Tune took it and stopped the trial (ASHA): the thread ends
            self._taken(path)
            raise
        self._taken(path)

    def _taken(self, path: str | None) -> None:
        """Tune has the report: only now is its checkpoint the one a restart goes on from,
        as Ray Train registers a checkpoint once its report arrived; the one before is
        then dropped (CheckpointConfig(num_to_keep=1))."""
        if path is None:
            return
        fs = self._storage.storage_filesystem
        with fs.open_output_stream(self._latest_file()) as f:
            f.write(path.rsplit("/", 1)[-1].encode())
        if self._checkpoint is not None:
            fs.delete_dir(self._checkpoint.path)
        self._checkpoint = self.Checkpoint(path, filesystem=fs)

    def _latest_file(self) -> str:
        return f"{self._storage.experiment_fs_path}/{LATEST}"

    def _newest_checkpoint(self) -> Any:
        """The last checkpoint Tune took, if this trial ran before (a restart); checkpoints
        persisted after it, whose report never arrived, are removed."""
        from pyarrow.fs import FileSelector, FileType

        fs = self._storage.storage_filesystem
        if fs.get_file_info(self._latest_file()).type != FileType.File:
            return None
        with fs.open_input_stream(self._latest_file()) as f:
            name = f.read().decode().strip()
        for info in fs.get_file_info(FileSelector(self._storage.experiment_fs_path)):
            if info.base_name.startswith("checkpoint_") and info.base_name != name:
                fs.delete_dir(info.path)
        path = self._storage.build_checkpoint_path_from_name(name)
        if fs.get_file_info(path).type != FileType.Directory:
            return None  # dropped once the trial ended (driver/kept.py): start afresh
        return self.Checkpoint(path, fs)


def run_in_actor(
    train_fn: Callable[[dict[str, Any]], None],
    config: dict[str, Any],
    *,
    run_name: str,
    storage_path: str,
) -> None:
    """Run the loop in this process, from the trial's newest checkpoint if it has one."""
    train_fn({**config, IN_ACTOR: InActorTrain(run_name, storage_path)})
