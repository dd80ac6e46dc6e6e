"""The GPU benchmarks run on CPU with tiny sizes and print their JSON (CI has no GPU).
A smoke test only: nothing is timed or compared with a goal."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from tests.conftest import ROOT

pytestmark = pytest.mark.integration


def _run(*args: str, cwd: Path) -> dict[str, Any]:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "platform"), "HF_HUB_OFFLINE": "1"}
    proc = subprocess.run(
        [sys.executable, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=900
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    out: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return out


def test_gpu_throughput_smoke_runs_a_variant_and_the_ray_worker(tmp_path: Path) -> None:
    out = _run(
        str(ROOT / "benchmarks" / "gpu_throughput.py"),
        *("--size", "tiny", "--seq", "16", "--batch", "2", "--steps", "2", "--warmup", "1"),
        *("--only", "lora8 sdpa", "--ray", "--out", str(tmp_path / "gpu.json")),
        cwd=tmp_path,
    )
    assert out["benchmark"] == "gpu_throughput" and out["device"] == "cpu"
    rows = out["variants"]
    assert set(rows) == {
        "lora8 sdpa",
        "default bare (before)",
        "default in Ray Train worker",
        "default bare (after)",
    }
    assert all(row["tok_per_s"] > 0 for row in rows.values())
    assert out["ray_vs_bare"] > 0
    assert json.loads((tmp_path / "gpu.json").read_text())["variants"] == rows


def test_dama_step_smoke_times_both_stages(tmp_path: Path) -> None:
    out = _run(
        str(ROOT / "benchmarks" / "dama_step.py"),
        *("--backend", "vanilla", "--steps", "1", "--warmup", "1", "--batch", "8"),
        cwd=tmp_path,
    )
    assert out["benchmark"] == "dama_step"
    assert out["stage1"]["step_ms"] > 0 and out["stage2"]["step_ms"] > 0


def test_gpu_pack_plans_k_trials_per_gpu_and_skips_without_one(tmp_path: Path) -> None:
    script = str(ROOT / "benchmarks" / "gpu_pack.py")
    out = _run(script, "--plan-only", cwd=tmp_path)
    assert out["benchmark"] == "gpu_pack"
    for method in ("dao", "dama"):
        for k in (1, 2, 4, 8):
            plan = out["plans"][f"{method} x{k}"]
            assert plan["per_trial"]["GPU"] == pytest.approx(1 / k, rel=1e-3)
            assert plan["max_concurrent"] == k
    import torch

    if not torch.cuda.is_available():  # a clean skip, said on stderr, exit 0
        skipped = _run(script, "--per-gpu", "1", cwd=tmp_path)
        assert skipped == {"benchmark": "gpu_pack", "skipped": skipped["skipped"]}
        assert "no CUDA" in skipped["skipped"]
