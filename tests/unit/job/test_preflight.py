"""What a job names outside itself is checked before anything starts (adaptune.preflight):
good models and data pass (and local paths become absolute), model code runs only when
confirmed, and each method's declared data sources are the ones its build_data reads."""

from __future__ import annotations

import inspect
import json
from pathlib import Path

import pytest
from tests.conftest import write

from adaptune.job.spec import SpecError, load_job
from adaptune.method import MODEL_METADATA
from adaptune.methods import BUILTIN, METHODS
from adaptune.plan import make_plan, make_plans

SPACE = "dao_lr: {type: float, low: 1.0e-4, high: 1.0e-2, log: true}\n"


def _job(tmp_path: Path, fixed: str = "{epochs: 2}", data: str = "") -> Path:
    write(tmp_path / "space.yaml", SPACE)
    data = data or "{source: synthetic-finsent, n_train: 50}"
    return write(
        tmp_path / "job.yaml",
        f"name: t\nmethod: dao\ndata: {data}\nfixed: {fixed}\n"
        "search: {space: space.yaml, num_samples: 2}\n",
    )


def _problem(path: Path, **kwargs: bool) -> str:
    with pytest.raises(SpecError) as e:
        make_plans(load_job(path), **kwargs)
    (problem,) = e.value.problems
    return str(problem)


def test_remote_code_runs_only_when_confirmed(tmp_path: Path) -> None:
    model = tmp_path / "encoder"
    write(model / "config.json", json.dumps({"auto_map": {"AutoModel": "m.M"}}))
    job = _job(tmp_path, "{epochs: 2, backbone: ./encoder, trust_remote_code: true}")
    assert "confirm with --trust-remote-code" in _problem(job)
    plan = make_plan(load_job(job), trust_remote_code=True)
    assert plan.remote_code is not None and str(model) in plan.remote_code
    assert plan.job.fixed["backbone"] == str(model)  # absolute: trials run elsewhere


def test_a_hub_name_backbone_is_accepted_offline(tmp_path: Path) -> None:
    plan = make_plan(load_job(_job(tmp_path, "{epochs: 2, backbone: org/some-model}")))
    assert plan.job.fixed["backbone"] == "org/some-model" and plan.remote_code is None


def test_init_from_a_saved_model_of_the_method(tmp_path: Path) -> None:
    write(tmp_path / "best" / MODEL_METADATA, json.dumps({"method": "dao"}))
    plan = make_plan(load_job(_job(tmp_path, "{epochs: 2, init_from: best}")))
    assert plan.job.fixed["init_from"] == str(tmp_path / "best")


def test_a_good_data_file_passes_and_a_small_one_is_sized(tmp_path: Path) -> None:
    rows = [f"The euro rallied {i},0.{i % 10}\n" for i in range(40)]
    write(tmp_path / "news.csv", "text,score\n" + "".join(rows))
    make_plan(load_job(_job(tmp_path, data="{source: file, path: news.csv, n_train: 1000}")))
    write(tmp_path / "few.csv", "text,score\n" + "".join(rows[:13]))
    job = _job(tmp_path, data="{source: file, path: few.csv, n_train: 1000}")
    assert "the train split has" in _problem(job)  # 13 rows, minus test and val: < 16


def test_paths_are_resolved_next_to_the_job_file_from_any_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """validate and search plan alike: every relative path the job names is found next to
    the job file, not in the current folder, and the plan (what trials receive) holds it
    absolute."""
    here = tmp_path.resolve() / "jobs"
    rows = "".join(f"The euro rallied {i},0.{i % 10}\n" for i in range(40))
    write(here / "data" / "train.csv", "text,score\n" + rows)
    write(here / "data" / "test.csv", "text,score\n" + rows.replace("rallied", "fell"))
    write(here / "space.yaml", SPACE)
    write(
        here / "job.yaml",
        "name: t\nmethod: dao\nfixed: {epochs: 2}\nstorage_path: tune\n"
        "data: {source: file, path: data/train.csv, test_path: data/test.csv, n_train: 40}\n"
        "search: {space: space.yaml, num_samples: 2}\n",
    )
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    (plan,) = make_plans(load_job("../jobs/job.yaml"))
    assert plan.job.data.path == str(here / "data" / "train.csv")
    assert plan.job.data.test_path == str(here / "data" / "test.csv")
    assert plan.job.the_search.space == str(here / "space.yaml")
    assert plan.job.storage_path == str(here / "tune")


@pytest.mark.parametrize("name", sorted(BUILTIN))  # installed methods: their own tests
def test_declared_sources_are_the_ones_build_data_reads(name: str) -> None:
    """Every source a method declares appears in its step or data code, and a synthetic
    source another method declares is refused for it."""
    import importlib

    method = METHODS[name]
    code = "".join(
        inspect.getsource(importlib.import_module(f"adaptune.methods.{name}.{part}"))
        for part in ("step", "data")
    )
    for source in method.data_sources:
        assert source in ("file", "hf") or f'"{source}"' in code, source
    assert ("file" in method.data_sources) == ("load_records" in code)
    others = {s for m in METHODS.values() for s in m.data_sources} - set(method.data_sources)
    assert others, "every method reads a source of its own"
