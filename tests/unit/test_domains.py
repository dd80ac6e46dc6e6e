"""adaptune/domains.py: the per-domain summaries a search can optimise, and their names."""

from __future__ import annotations

import pytest
from tests.conftest import ROOT

from adaptune import domains
from adaptune.job.spec import JobSpec
from adaptune.methods import get_method
from adaptune.plan import make_plans


def test_worst_is_the_lowest_when_higher_is_better_and_the_highest_otherwise() -> None:
    got = domains.summaries({"val/acc/a": 0.8, "val/acc/b": 0.6, "val/loss": 1.0}, "val/acc", "max")
    assert got == {
        "val/acc_mean_domain": pytest.approx(0.7),
        "val/acc_min_domain": 0.6,
        "val/acc_max_domain": 0.8,
        "val/acc_worst_domain": 0.6,
    }
    test = domains.summaries({"test/mse/a": 0.1, "test/mse/b": 0.3}, "val/mse", "min")
    assert test["test/mse_worst_domain"] == 0.3  # test named like val, its own direction
    assert domains.summaries({"val/acc/a": 0.8}, "val/acc", "max") == {}  # one domain: none


def test_validate_takes_the_summaries_as_metrics_for_methods_with_domains() -> None:
    assert "val/acc_worst_domain" in domains.names(get_method("mad").metrics, "val/acc")
    assert domains.names(get_method("dao").metrics, "val/mse") == []
    job = ROOT / "jobs" / "dama_stage1.yaml"
    sets = {"search.metric": "val/acc_worst_domain", "search.mode": "max"}
    (plan,) = make_plans(JobSpec.from_yaml(job, sets))
    assert plan.metric == "val/acc_worst_domain"
