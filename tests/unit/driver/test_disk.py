"""The disk guard: a search that cannot fit is refused before Ray starts, naming the
estimate and the free space (free space simulated with ADAPTUNE_FREE_BYTES)."""

from __future__ import annotations

from pathlib import Path

import pytest
import ray
from tests.conftest import ROOT, write

from adaptune.cli import main
from adaptune.driver import disk
from adaptune.job.spec import SpecError, load_job
from adaptune.plan import Plan, make_plan

QUICKSTART = ROOT / "jobs" / "quickstart.yaml"


def _plan(**overrides: object) -> Plan:
    return make_plan(load_job(QUICKSTART, {k.replace("__", "."): v for k, v in overrides.items()}))


def test_a_lora_search_estimate_grows_with_trials_not_with_the_backbone(tmp_path: Path) -> None:
    small, big = _plan(), _plan(search__num_samples=300)
    assert disk.model_bytes(small) < 10 * 2**20  # LoRA ranks of the quick space: adapters
    assert disk.estimate(small) < disk.estimate(big) < 2 * 10**9  # 300 trials: under 2 GB
    write(tmp_path / "space.yaml", "lr: {type: float, low: 1.0e-5, high: 1.0e-3, log: true}\n")
    full = _plan(
        search__space=str(tmp_path / "space.yaml"),
        fixed__lora_rank=0,
        search__num_samples=300,
        tracking__log_models="all",
    )
    assert disk.model_bytes(full) > 80 * 2**20  # full fine-tuning stores the whole encoder
    assert disk.estimate(full) > 300 * 80 * 2**20


def test_the_guard_names_the_estimate_and_the_free_space(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    plan = _plan()
    monkeypatch.setenv(disk.FREE_BYTES_ENV, str(10 * 2**40))
    disk.guard(plan, tmp_path)  # fits: no error
    monkeypatch.setenv(disk.FREE_BYTES_ENV, str(300 * 10**6))
    with pytest.raises(SpecError) as err:
        disk.guard(plan, tmp_path)
    text = str(err.value)
    assert "needs about" in text and "0.30 GB free" in text and str(tmp_path) in text


def test_the_cli_refuses_a_search_that_cannot_fit_before_ray_starts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    monkeypatch.setenv(disk.FREE_BYTES_ENV, "1000000")
    code = main(["--state-dir", str(tmp_path / "state"), "search", str(QUICKSTART)])
    assert code == 2
    assert "needs about" in capsys.readouterr().err
    assert not ray.is_initialized() and not (tmp_path / "state" / "ray").exists()


def test_low_space_during_a_search_is_reported_by_the_watch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The recorder's watch, every Tune step: the reason to stop once free space is under
    the margin (the search then stops resumable: tests/integration/test_interrupt.py)."""
    watch = disk.DiskWatch([tmp_path])
    hook = tmp_path / "free"
    hook.write_text(str(disk.LOW_BYTES + 1))
    monkeypatch.setenv(disk.FREE_BYTES_ENV, f"@{hook}")
    assert watch.check() is None  # enough: nothing happens
    hook.write_text(str(disk.LOW_BYTES - 1))
    assert watch.check() is None  # checked at most every CHECK_EVERY_S
    watch.last = 0.0
    assert watch.check() == f"only 0.54 GB free at {tmp_path} (under 0.54 GB)"
