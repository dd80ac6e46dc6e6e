"""One compile cache per search: every trial of a search gets the search's own folder for
Inductor's and Triton's on-disk caches, and torch resolves its caches there."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from adaptune.driver.run import compile_cache_dir
from adaptune.train.trial import TrialSetup
from adaptune.train.worker import use_compile_cache

CACHE_ENV = ("TORCHINDUCTOR_CACHE_DIR", "TRITON_CACHE_DIR")


def _setup(tmp_path: Path, search: str) -> TrialSetup:
    return TrialSetup(
        method="dao",
        fixed={"compile": True},
        data={"source": "synthetic-finsent"},
        cache_dir=str(tmp_path / "cache" / "dao"),
        search=search,
        storage_path=str(tmp_path / "ray"),
        in_actor=True,
        compile_cache=str(compile_cache_dir(tmp_path, search)),
    )


def test_each_search_has_its_own_folder_under_the_state_folder(tmp_path: Path) -> None:
    a, b = compile_cache_dir(tmp_path, "qs-1"), compile_cache_dir(tmp_path, "qs-2")
    assert a != b
    assert a.is_absolute() and a.is_relative_to(tmp_path.resolve())
    assert compile_cache_dir(tmp_path, "qs-1") == a  # a resumed search finds its cache


def test_every_trial_and_rerun_of_a_search_gets_the_searchs_folder(tmp_path: Path) -> None:
    setup = _setup(tmp_path, "qs-1")
    first, second = setup.loop_config({"lr": 1e-4}), setup.loop_config({"lr": 3e-4})
    assert first["compile_cache"] == second["compile_cache"] == setup.compile_cache
    rerun = dataclasses.replace(setup, search="qs-1-final")  # driver/final.py's re-runs
    assert rerun.loop_config({})["compile_cache"] == setup.compile_cache
    assert _setup(tmp_path, "qs-2").compile_cache != setup.compile_cache


def test_torch_resolves_its_caches_in_the_searchs_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from torch._inductor.runtime.cache_dir_utils import cache_dir, triton_cache_dir

    for key in CACHE_ENV:  # restored after the test
        monkeypatch.setenv(key, "/elsewhere")
    folder = str(compile_cache_dir(tmp_path, "qs-1"))
    use_compile_cache(folder)
    assert cache_dir() == folder
    assert Path(triton_cache_dir(0)).is_relative_to(folder)
    use_compile_cache(str(compile_cache_dir(tmp_path, "qs-2")))  # a trial of another search
    assert cache_dir() == str(compile_cache_dir(tmp_path, "qs-2"))


def test_no_folder_leaves_torchs_default(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in CACHE_ENV:
        monkeypatch.delenv(key, raising=False)
    use_compile_cache("")
    use_compile_cache(None)
    import os

    assert not any(key in os.environ for key in CACHE_ENV)
