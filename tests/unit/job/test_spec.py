"""Job specs and search spaces: every shipped YAML validates; bad input names file, line, key."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.conftest import ROOT, write

from adaptune.cli import main
from adaptune.job.space import load_space
from adaptune.job.spec import SpecError, load_job
from adaptune.plan import make_plan, make_plans

GOOD = """\
name: t
method: dao
data: {source: synthetic-finsent, n_train: 50}
fixed: {epochs: 2}
search:
  space: space.yaml
  num_samples: 2
"""
SPACE = "lr: {type: float, low: 1.0e-5, high: 1.0e-3, log: true}\n"


# jobs/*_paper.yaml name the benchmarks' own files, absent here: validated against the
# fixtures in each layout (tests/unit/job/test_paper_jobs.py, MAD's in its image tests)
SHIPPED = sorted(p for p in (ROOT / "jobs").glob("*.yaml") if not p.stem.endswith("_paper"))


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_every_shipped_job_validates(path: Path) -> None:
    for plan in make_plans(load_job(path)):
        assert plan.num_samples >= 1 and plan.space


@pytest.mark.parametrize(
    "path", sorted((ROOT / "search_spaces").glob("*.yaml")), ids=lambda p: p.name
)
def test_every_shipped_space_loads(path: Path) -> None:
    assert load_space(path)


def _problems(tmp_path: Path, job: str, space: str = SPACE) -> list[str]:
    write(tmp_path / "space.yaml", space)
    path = write(tmp_path / "job.yaml", job)
    with pytest.raises(SpecError) as e:
        make_plans(load_job(path))
    return [str(p) for p in e.value.problems]


def test_good_job_passes(tmp_path: Path) -> None:
    write(tmp_path / "space.yaml", SPACE)
    plan = make_plan(load_job(write(tmp_path / "job.yaml", GOOD)))
    assert (plan.metric, plan.mode, plan.max_t) == ("val/mse", "min", 2)


def test_unknown_key_names_file_line_and_key(tmp_path: Path) -> None:
    bad = GOOD.replace("  num_samples: 2", "  num_samples: 2\n  smapler: tpe")
    (msg,) = _problems(tmp_path, bad)
    assert msg.endswith("job.yaml:8: search.smapler: unknown key")


def test_yaml_syntax_error_has_line(tmp_path: Path) -> None:
    (msg,) = _problems(tmp_path, GOOD.replace("fixed: {epochs: 2}", "fixed: {epochs: 2"))
    # Reported where the brace opened, not where PyYAML noticed (line 5).
    assert "job.yaml:4: fixed: YAML syntax error: a flow mapping opened here" in msg


def test_wrong_type_in_fixed_value(tmp_path: Path) -> None:
    (msg,) = _problems(tmp_path, GOOD.replace("epochs: 2", "epochs: two"))
    assert "job.yaml:4: fixed.epochs:" in msg


def test_fixed_key_not_in_config(tmp_path: Path) -> None:
    (msg,) = _problems(tmp_path, GOOD.replace("epochs: 2", "epochz: 2"))
    assert "job.yaml:4: fixed.epochz: not a dao config field" in msg


def test_key_both_fixed_and_searched(tmp_path: Path) -> None:
    (msg,) = _problems(tmp_path, GOOD.replace("epochs: 2", "epochs: 2, lr: 0.001"))
    assert "fixed.lr: both fixed and searched" in msg


def test_unknown_method_suggests_the_closest(tmp_path: Path) -> None:
    (msg,) = _problems(tmp_path, GOOD.replace("method: dao", "method: doa"))
    assert "job.yaml:2: method: unknown method 'doa' (did you mean 'dao'?)" in msg


def test_infeasible_resources_refused(tmp_path: Path) -> None:
    (msg,) = _problems(tmp_path, GOOD + "resources: {workers_per_trial: 512}\n")
    assert "resources: one trial needs 512 CPU" in msg


def test_metric_must_be_reported(tmp_path: Path) -> None:
    (msg,) = _problems(
        tmp_path,
        GOOD.replace("  num_samples: 2", "  num_samples: 2\n  metric: val/auc\n  mode: max"),
    )
    assert "search.metric: 'val/auc' is not reported by dao" in msg


@pytest.mark.parametrize(
    ("space", "expected"),
    [
        ("lr: {type: float, low: 1.0, high: 0.1}\n", "space.yaml:1: lr: Value error, low (1.0)"),
        ("lr: {type: float, low: 0, high: 1, log: true}\n", "log scale needs low > 0"),
        ("lora_rank: {type: categorical, choices: []}\n", "needs a non-empty 'choices'"),
        ("lr: {type: float, low: 0.1, hgih: 1}\n", "space.yaml:1: lr.hgih: unknown key"),
        ("lr: {type: gaussian, low: 0, high: 1}\n", "space.yaml:1: lr.type:"),
        ("lrr: {type: float, low: 0.1, high: 1}\n", "space.yaml:1: lrr: not a dao config field"),
        (
            "w_c: {type: float, low: 0.0, high: 2.0}\n",
            "w_c: value 2.0: Value error, w_c must be in [0, 1)",
        ),
    ],
)
def test_bad_space_entries(tmp_path: Path, space: str, expected: str) -> None:
    msgs = _problems(tmp_path, GOOD, space)
    assert any(expected in m for m in msgs), msgs


def test_grid_sampler_needs_discrete_space(tmp_path: Path) -> None:
    (msg,) = _problems(tmp_path, GOOD.replace("  num_samples: 2", "  sampler: grid"))
    assert "search.sampler: the grid sampler needs discrete parameters" in msg


def test_unknown_sampler(tmp_path: Path) -> None:
    write(tmp_path / "space.yaml", SPACE)
    path = write(tmp_path / "job.yaml", GOOD.replace("  num_samples: 2", "  sampler: bayes"))
    with pytest.raises(SpecError, match=r"job.yaml:7: search.sampler: Input should be 'tpe'"):
        load_job(path)


def test_validate_cli_exits_2_on_bad_input(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    write(tmp_path / "space.yaml", SPACE)
    path = write(tmp_path / "job.yaml", GOOD.replace("num_samples: 2", "num_samples: -1"))
    assert main(["validate", str(path)]) == 2
    assert (
        "search.num_samples: Input should be greater than or equal to 1" in capsys.readouterr().err
    )


def test_set_overrides_a_key(tmp_path: Path) -> None:
    write(tmp_path / "space.yaml", SPACE)
    path = write(tmp_path / "job.yaml", GOOD)
    job = load_job(path, {"search.num_samples": 5, "fixed.epochs": 3})
    assert job.search.num_samples == 5 and job.fixed["epochs"] == 3


STAGED = """\
name: s
method: dao
data: {source: synthetic-finsent, n_train: 50}
fixed: {epochs: 2}
stages:
  - name: one
    search: {space: space.yaml}
  - name: two
    fixed: {lr: 0.001}
    search: {space: space.yaml}
"""


def test_stage_errors_point_into_the_stage(tmp_path: Path) -> None:
    (msg,) = _problems(tmp_path, STAGED)
    assert "job.yaml:9: stages.1.fixed.lr: both fixed and searched" in msg


def test_search_or_stages_not_both(tmp_path: Path) -> None:
    path = write(tmp_path / "job.yaml", STAGED + "search: {space: space.yaml}\n")
    with pytest.raises(SpecError, match="either 'search' or a non-empty list of 'stages'"):
        load_job(path)
