"""An epoch that takes no step is an error, not a trial that "completes" untrained."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from adaptune.train.worker import train_epoch


def _method(steps: list[int]) -> Any:
    def train_step(model: Any, batch: Any, opt: Any, cfg: Any) -> dict[str, float]:
        steps.append(batch)
        return {"loss": 0.5}

    return SimpleNamespace(train_step=train_step)


def test_an_epoch_without_a_batch_is_an_error() -> None:
    cfg = SimpleNamespace(batch_size=16)
    with pytest.raises(ValueError, match=r"no batch: .*batch_size 16"):
        train_epoch(_method([]), None, [], None, cfg)


def test_an_epoch_with_batches_reports_their_mean() -> None:
    seen: list[int] = []
    assert train_epoch(_method(seen), None, [1, 2, 3], None, SimpleNamespace()) == {
        "train/loss": 0.5
    }
    assert seen == [1, 2, 3]
