"""What a trial reports to Tune each epoch besides the method's metrics: the reserved
keys, written here once (the val -> test naming is method.test_name).

    report = {**metrics, EPOCH: 3, EPOCHS: 5, NODE_ID: "...", ...}   # train/worker.py
    result.get(EPOCH)                                                 # the driver reads

Tune adds its own keys to every result (``ray.tune.result``: training_iteration,
time_this_iter_s, ...); `ray_keys()` reads them from Ray's constants. A method metric
must not take any of these names: `reserved_in` names the clashes (check_method runs it).
Kept free of heavy imports: every trial actor and the driver import this.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable

__all__ = [
    "CHECKPOINT_PATH",
    "EPOCH",
    "EPOCHS",
    "EPOCH_TIME_S",
    "NODE_ID",
    "OURS",
    "STEP_SERIES",
    "TIME_TOTAL_S",
    "TRAIN_TIME_S",
    "WORLD_SIZE",
    "ray_keys",
    "reserved_in",
]

EPOCH = "epoch"  # 1-based; the scheduler's time attribute
EPOCHS = "epochs"  # the trial's planned epochs: EPOCH == EPOCHS is a trial that finished
TRAIN_TIME_S = "train_time_s"
EPOCH_TIME_S = "epoch_time_s"
WORLD_SIZE = "world_size"
NODE_ID = "node_id"  # the Ray node rank 0 ran on
STEP_SERIES = "step_series"  # the method's per-step values (Method.step_series)
CHECKPOINT_PATH = "checkpoint_path"  # added by TuneReportCallback / InActorTrain
# Tune's own, read by the driver (the same string as ray.tune.result.TIME_TOTAL_S; a test
# holds them equal, so this module needs no Ray import)
TIME_TOTAL_S = "time_total_s"
OURS = frozenset(
    {EPOCH, EPOCHS, TRAIN_TIME_S, EPOCH_TIME_S, WORLD_SIZE, NODE_ID, STEP_SERIES, CHECKPOINT_PATH}
)


@functools.cache
def ray_keys() -> frozenset[str]:
    """The keys Tune adds to every result, from Ray's own constants."""
    from ray.tune import result

    return frozenset(
        {
            *result.AUTO_RESULT_KEYS,
            *result.DEBUG_METRICS,
            *result.DEFAULT_EXPERIMENT_INFO_KEYS,
            result.DONE,
            result.SHOULD_CHECKPOINT,
            result.EXPERIMENT_TAG,
        }
    )


def reserved_in(names: Iterable[str]) -> list[str]:
    """The names among `names` that a trial's report or Tune already uses."""
    taken = OURS | ray_keys()
    return sorted({n for n in names if n in taken})
