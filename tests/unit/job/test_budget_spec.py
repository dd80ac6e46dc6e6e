"""search.budget and search.stop_when (job/budget.py): durations, what reaches the plan,
the words the summary uses, and refusals with file, line and key (the bad_specs corpus
has one case per refusal, through validate and search)."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError
from tests.conftest import write

from adaptune.job.budget import BudgetSpec, duration, rule_text
from adaptune.job.spec import JobSpec, SpecError, load_job
from adaptune.plan import make_plans

JOB = """\
name: t
method: dao
data: {{source: synthetic-finsent, n_train: 50}}
fixed: {{epochs: 2}}
stages:
  - name: one
    search:
      space: space.yaml
      {one}
  - name: two
    search:
      space: space.yaml
      metric: [val/mse, val/mae]
      mode: [min, min]
      {two}
{rest}
"""
SPACE = "lr: {type: float, low: 1.0e-5, high: 1.0e-3, log: true}\n"


@pytest.mark.parametrize(
    ("given", "seconds"),
    [(90, 90.0), (2.5, 2.5), ("90s", 90.0), ("30m", 1800.0), ("2h", 7200.0), ("1.5d", 129600.0)],
)
def test_a_wall_budget_is_seconds_or_a_duration(given: object, seconds: float) -> None:
    assert duration(given) == seconds
    assert BudgetSpec.model_validate({"wall": given}).limits() == {"wall": seconds}


@pytest.mark.parametrize("given", ["2 hours", "h", "-5m", 0, -1, True, "nan", [1]])
def test_not_a_duration(given: object) -> None:
    with pytest.raises(ValidationError):
        BudgetSpec.model_validate({"wall": given})


def test_the_rules_in_words() -> None:
    assert rule_text("wall", 7200) == "budget.wall (2h)"
    assert rule_text("wall", 90) == "budget.wall (90s)"
    assert rule_text("usd", 20) == "budget.usd ($20)"
    assert rule_text("gpu_hours", 8) == "budget.gpu_hours (8 GPU-hours)"
    assert rule_text("objective", 0.12) == "stop_when.objective (0.12 reached)"


def test_each_stage_has_its_own_budget_and_rules(tmp_path: Path) -> None:
    write(tmp_path / "space.yaml", SPACE)
    text = JOB.format(
        one="budget: {wall: 30m, usd: 20, gpu_hours: 8, cpu_hours: 4}",
        two="stop_when: {no_improvement_trials: 20}",
        rest="",
    )
    one, two = make_plans(load_job(write(tmp_path / "job.yaml", text)))
    s = one.job.the_search
    assert s.budget is not None and s.stop_when is None
    assert s.budget.limits() == {"wall": 1800.0, "usd": 20, "gpu_hours": 8, "cpu_hours": 4}
    t = two.job.the_search
    assert t.budget is None and t.stop_when and t.stop_when.no_improvement_trials == 20
    # written back as read (to_yaml / from_yaml)
    again = JobSpec.from_dict(load_job(tmp_path / "job.yaml").model_dump(by_alias=True))
    assert again.stages and again.stages[0].search.budget == s.budget


def test_refusals_name_the_stages_key_and_line(tmp_path: Path) -> None:
    write(tmp_path / "space.yaml", SPACE)
    text = JOB.format(
        one="budget: {usd: 5}",
        two="stop_when: {objective: 0.1}",
        rest="pricing: {usd_per_cpu_hour: 0, usd_per_gpu_hour: 0}",
    )
    with pytest.raises(SpecError) as e:
        make_plans(load_job(write(tmp_path / "job.yaml", text)))
    got = [(p.line, p.key) for p in e.value.problems]
    assert got == [(9, "stages.0.search.budget.usd"), (15, "stages.1.search.stop_when.objective")]


def test_a_resume_takes_the_budget_as_the_job_has_it_now(tmp_path: Path) -> None:
    from adaptune.driver.resume import fingerprint

    write(tmp_path / "space.yaml", SPACE)
    prints = []
    for one in ("seed: 0", "budget: {wall: 2h}\n      stop_when: {objective: 0.1}"):
        text = JOB.format(one=one, two="seed: 0", rest="")
        prints.append(fingerprint(make_plans(load_job(write(tmp_path / "job.yaml", text)))))
    assert prints[0] == prints[1]  # a record written before budgets existed resumes too
