"""Search spaces become Optuna distributions with Optuna's own bounds."""

from __future__ import annotations

from pathlib import Path

import pytest
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution
from tests.conftest import write

from adaptune.job.space import grid_of, grid_size, load_space


def test_each_type_converts(tmp_path: Path) -> None:
    space = load_space(
        write(
            tmp_path / "s.yaml",
            """\
lr: {type: float, low: 1.0e-5, high: 1.0e-3, log: true}
epochs: {type: int, low: 2, high: 6, step: 2}
weighting: {type: categorical, choices: [constant, dao]}
""",
        )
    )
    assert space["lr"] == FloatDistribution(1e-5, 1e-3, log=True)
    assert space["epochs"] == IntDistribution(2, 6, step=2)
    assert space["weighting"] == CategoricalDistribution(["constant", "dao"])


def test_int_high_is_inclusive_in_the_grid(tmp_path: Path) -> None:
    space = load_space(write(tmp_path / "s.yaml", "epochs: {type: int, low: 1, high: 3}\n"))
    assert grid_of(space) == {"epochs": [1, 2, 3]}


def test_float_grid_with_step(tmp_path: Path) -> None:
    space = load_space(
        write(
            tmp_path / "s.yaml",
            """\
w_c: {type: float, low: 0.05, high: 0.25, step: 0.05}
lora_rank: {type: categorical, choices: [8, 16]}
""",
        )
    )
    assert grid_of(space)["w_c"] == [0.05, 0.1, 0.15, 0.2, 0.25]
    assert grid_size(space) == 10


def test_continuous_grid_is_refused(tmp_path: Path) -> None:
    space = load_space(write(tmp_path / "s.yaml", "lr: {type: float, low: 0.1, high: 1}\n"))
    with pytest.raises(ValueError, match="continuous: lr"):
        grid_of(space)
