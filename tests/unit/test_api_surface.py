"""The public API's surface: what `import adaptune as at` lists, its docs, jobs in code."""

from __future__ import annotations

import re
import subprocess
import sys

import optuna
import pytest
from tests.conftest import ROOT

import adaptune as at

DOC = ROOT / "docs" / "api.md"


def test_every_public_name_resolves_and_is_documented() -> None:
    documented = set(re.findall(r"^#{2,3} `(?:at\.)?([A-Za-z_]+)", DOC.read_text(), re.M))
    assert documented == set(at.__all__)
    for name in at.__all__:
        assert getattr(at, name) is not None


def test_import_is_light() -> None:
    heavy = "sorted(m for m in ('torch', 'ray', 'mlflow') if m in sys.modules)"
    code = f"import sys, adaptune as at; at.__all__; print({heavy})"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def _job(**search: object) -> dict[str, object]:
    space = {"lr": optuna.distributions.FloatDistribution(1e-5, 1e-3, log=True)}
    return {
        "name": "nb",
        "method": "dao",
        "data": {"source": "synthetic-finsent", "n_train": 64},
        "search": {"space": space, "num_samples": 2, **search},
    }


def test_job_from_dict_round_trips_through_yaml(tmp_path) -> None:  # type: ignore[no-untyped-def]
    job = at.Job.from_dict(_job())
    assert job.search is not None
    assert job.search.space == {"lr": {"type": "float", "low": 1e-5, "high": 1e-3, "log": True}}
    job.to_yaml(tmp_path / "job.yaml")
    again = at.Job.from_yaml(tmp_path / "job.yaml")
    assert again.search == job.search and again.data == job.data
    job.validate()


def test_problems_of_a_job_in_code_name_dotted_keys() -> None:
    with pytest.raises(at.SpecError, match=r"^search\.num_samples: "):
        at.Job.from_dict(_job(num_samples=0))
    bad = _job()
    bad["search"] = {"space": {"lr": {"type": "float", "low": 1.0, "high": 0.1}}}
    with pytest.raises(at.SpecError, match=r"^search\.space\.lr: .*low \(1\.0\) > high"):
        at.Job.from_dict(bad).validate()
    with pytest.raises(at.SpecError, match=r"fixed\.epohcs=2: .*did you mean 'fixed\.epochs'"):
        at.Job.from_dict(_job(), overrides={"fixed.epohcs": 2}).validate()


def test_search_refuses_a_bad_job_before_ray_starts() -> None:
    bad = at.Job.from_dict(_job(), overrides={"fixed.epochs": -1})
    with pytest.raises(at.SpecError, match=r"fixed\.epochs"):
        at.search(bad)
    assert "ray" not in sys.modules or not sys.modules["ray"].is_initialized()
