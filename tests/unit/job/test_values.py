"""Config values are checked strictly, and the checked, typed values are what trials get."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import pytest
from tests.conftest import write

from adaptune.job.spec import load_job
from adaptune.job.values import check_values, range_problem
from adaptune.methods.dallmi.config import DALLMiConfig
from adaptune.methods.dama.config import DAMAConfig
from adaptune.methods.dao.config import DAOConfig
from adaptune.methods.mad.config import MADConfig
from adaptune.plan import make_plan
from adaptune.train.trial import TrialSetup


@pytest.mark.parametrize(
    ("values", "fragment"),
    [
        ({"compile": "false"}, "compile: Input should be a valid boolean (got 'false')"),
        ({"epochs": "2"}, "epochs: Input should be a valid integer (got '2')"),
        ({"epochs": 8.0}, "epochs: Input should be a valid integer (got 8.0)"),
        ({"epochs": True}, "epochs: Input should be a valid integer"),
        ({"lr": math.nan}, "lr: Input should be a finite number"),
        ({"lr": -math.inf}, "lr: Input should be a finite number"),
        ({"lr": -1e-4}, "lr: must be a learning rate > 0"),
        ({"lr": 0.0}, "lr: must be a learning rate > 0"),
        ({"head_dropout": 1.01}, "head_dropout: must be a probability in [0, 1]"),
        ({"seed": -1}, "seed: must be in [0, 2^32)"),
        ({"seed": 2**32}, "seed: must be in [0, 2^32)"),
        ({"max_len": 0}, "max_len: must be >= 1"),
        ({"warmup_steps": -1}, "warmup_steps: must be >= 0"),
        ({"adam_eps": 0.0}, "adam_eps: must be > 0"),
        ({"lora_rank": -8}, "lora_rank: must be >= 0"),
        ({"w_c": 1.5}, "Value error, w_c must be in"),
        ({"backbone": 7}, "backbone: Input should be a valid string"),
    ],
)
def test_wrong_values_are_refused_not_converted(values: dict[str, object], fragment: str) -> None:
    clean, problems = check_values(DAOConfig, values)
    assert clean == {}
    assert any(fragment in f"{k}: {m}" for k, m in problems), problems


def test_good_values_come_back_typed() -> None:
    clean, problems = check_values(
        DAOConfig, {"lr": 1, "lora_targets": ["query"], "epochs": 3, "lora_alpha": None}
    )
    assert problems == []
    assert clean == {"lr": 1.0, "lora_targets": ("query",), "epochs": 3, "lora_alpha": None}
    assert type(clean["lr"]) is float


@pytest.mark.parametrize("config", [DAOConfig, DAMAConfig, MADConfig, DALLMiConfig])
def test_every_method_default_passes_its_own_ranges(config: type) -> None:
    defaults = dataclasses.asdict(config())
    assert {k: range_problem(k, v) for k, v in defaults.items() if range_problem(k, v)} == {}
    clean, problems = check_values(config, defaults)
    assert problems == [] and clean.keys() == defaults.keys()


def test_trials_receive_the_checked_values(tmp_path: Path) -> None:
    """The plan's fixed values (what the driver hands TrialSetup) are the typed ones:
    `compile: false` stays False, `lr: 1` becomes 1.0 and a list a tuple."""
    write(tmp_path / "space.yaml", "dao_lr: {type: float, low: 1.0e-4, high: 1.0e-2, log: true}\n")
    job = write(
        tmp_path / "job.yaml",
        "name: t\nmethod: dao\ndata: {source: synthetic-finsent, n_train: 50}\n"
        "fixed: {epochs: 2, lr: 1, compile: false, lora_targets: [query, value]}\n"
        "search: {space: space.yaml, num_samples: 2}\n",
    )
    plan = make_plan(load_job(job))
    assert plan.job.fixed == {
        "epochs": 2,
        "lr": 1.0,
        "compile": False,
        "lora_targets": ("query", "value"),
    }
    setup = TrialSetup(  # as driver/run.py builds it
        method="dao",
        fixed=dict(plan.job.fixed),
        data={},
        cache_dir="",
        search="s",
        storage_path="",
        in_actor=True,
    )
    params = setup.loop_config({"dao_lr": 1e-3})["params"]
    assert params["lr"] == 1.0 and params["compile"] is False
