"""The search's compile cache works across processes: a second trial process compiling the
same model loads the first one's compiled graph from the search's folder (on CPU here:
Inductor's C++ kernels; on a GPU the same folder holds the Triton kernels too)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from tests.conftest import ROOT

pytestmark = pytest.mark.integration

TRIAL = """
import json, sys, time
import torch
from torch._dynamo.utils import counters
from adaptune.train.worker import use_compile_cache

use_compile_cache(sys.argv[1])
model = torch.compile(torch.nn.Sequential(torch.nn.Linear(8, 8), torch.nn.GELU()))
started = time.perf_counter()
model(torch.randn(4, 8))
print(json.dumps({"s": time.perf_counter() - started, **counters["inductor"]}))
"""


def _trial(folder: Path) -> dict[str, float]:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "platform")}
    for key in ("TORCHINDUCTOR_CACHE_DIR", "TRITON_CACHE_DIR"):
        env.pop(key, None)
    proc = subprocess.run(
        [sys.executable, "-c", TRIAL, str(folder)],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    out: dict[str, float] = json.loads(proc.stdout.strip().splitlines()[-1])
    return out


def test_the_second_trial_loads_what_the_first_compiled(tmp_path: Path) -> None:
    folder = tmp_path / "compile" / "search-1"
    first = _trial(folder)
    assert first.get("fxgraph_cache_miss", 0) >= 1 and not first.get("fxgraph_cache_hit")
    assert (folder / "fxgraph").is_dir()
    second = _trial(folder)
    assert second.get("fxgraph_cache_hit", 0) >= 1 and not second.get("fxgraph_cache_miss")
