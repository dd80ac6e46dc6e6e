"""GPU nodes from zero: a `use_gpu: true` search on a GPU-less head makes Ray's autoscaler
launch a GPU node type, and the node goes away after it.

A head with Ray's autoscaler over its fake multi-node provider (adaptune.autoscale) and two
worker types from 0: cpu_small (one CPU) and gpu_t4 (one CPU, one GPU: Ray accounts it,
there is no CUDA device; ADAPTUNE_FAKE_GPU=1, the test-only switch, trains on the CPU).
The head publishes its node types in the GCS, where the driver reads them (driver/nodes.py).

- scale 0 -> 1 -> 0: the trials ask for half a GPU each, both run on the one gpu_t4 node
  (their node ids, and Ray's accounting: the node's whole GPU in use), the node goes after.
- with no GPU node type published, `use_gpu: true` is refused before any trial, naming
  the node types.
- trials no node type can host wait, the progress says so, and resources.node_wait_s ends
  the search with an error.

Every process it starts it stops by process id (never `ray stop`).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.conftest import ROOT, local_autoscaler, write
from tests.integration.test_autoscale import _db, _log, _report, _tags, _wait

from adaptune.autoscale import LocalAutoscaler, fake_config, node_groups_of


def _has_cuda() -> bool:
    import torch

    return bool(torch.cuda.is_available())


pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(  # the fake GPU is refused where CUDA is real (train/worker.py)
        _has_cuda(),
        reason="ADAPTUNE_FAKE_GPU is for machines without CUDA",
    ),
]

IDLE_S = 5.0  # the workers' idle timeout: short, so the test is
CLUSTER: dict[str, Any] = {
    "cluster_name": "gpu-from-zero",
    "max_workers": 2,
    "head_node_type": "head",
    "available_node_types": {
        "head": {"resources": {"CPU": 0}, "node_config": {"InstanceType": "m5.large"}},
        "cpu_small": {
            "min_workers": 0,
            "max_workers": 1,
            "resources": {},
            "node_config": {"InstanceType": "m5.large"},
        },
        "gpu_t4": {  # g4dn.xlarge: one T4
            "min_workers": 0,
            "max_workers": 1,
            "resources": {},
            "node_config": {"InstanceType": "g4dn.xlarge"},
        },
    },
}
JOB = """\
name: {name}
method: dao
data: {{source: synthetic-finsent, n_train: 48, seed: 3}}
fixed: {{epochs: 2, max_len: 16, batch_size: 8, warmup_steps: 0, lora_rank: 4}}
search: {{space: space.yaml, sampler: grid, scheduler: {{type: fifo}}}}
resources: {{{resources}}}
storage_path: {storage}
promote: {{enabled: false}}
"""
SPACE = "dao_lr: {type: categorical, choices: [1.0e-3, 3.0e-3]}\n"
TRIALS_ENDED = (  # ms: the end of the last trial run (those that carry a node id)
    "SELECT max(r.end_time) FROM runs r JOIN tags t ON r.run_uuid = t.run_uuid "
    "WHERE t.key = 'adaptune.node_id'"
)
HALF_GPU = "use_gpu: true, gpus_per_worker: 0.5, cpus_per_worker: 0.5"


@pytest.fixture(scope="module")
def cluster() -> Iterator[LocalAutoscaler]:
    with local_autoscaler("gpu", CLUSTER, IDLE_S) as head:
        yield head


def _search(tmp_path: Path, cl: LocalAutoscaler, name: str, resources: str) -> Any:
    write(tmp_path / "space.yaml", SPACE)
    storage = tmp_path / "tune"
    write(tmp_path / "job.yaml", JOB.format(name=name, resources=resources, storage=storage))
    state, log = tmp_path / "state", (tmp_path / "driver.log").open("w")
    argv = [sys.executable, "-m", "adaptune", "--state-dir", str(state), "search"]
    argv += [str(tmp_path / "job.yaml"), "--address", cl.address]
    argv += ["--json", str(tmp_path / "out.json")]
    env = {**os.environ, "PYTHONPATH": str(ROOT / "platform"), "ADAPTUNE_FAKE_GPU": "1"}
    return subprocess.Popen(argv, env=env, stdout=log, stderr=subprocess.STDOUT)


def _gpu_in_use(cl: LocalAutoscaler) -> float:
    """GPUs in use on the cluster, by Ray's accounting (the autoscaler's load report)."""
    usage = cl.status().get("load_metrics_report", {}).get("usage", {})
    return float(usage.get("GPU", [0.0, 0.0])[0])


def _node_down(cl: LocalAutoscaler) -> float:
    start = time.monotonic()
    _wait("scale-down", lambda: not cl.nodes(), IDLE_S + 60, None, Path("."))
    return time.monotonic() - start


def test_use_gpu_search_scales_a_gpu_node_type_from_zero_and_back(
    cluster: LocalAutoscaler, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cluster.nodes() == []  # the head alone, and it has no GPU
    started = time.monotonic()
    driver = _search(tmp_path, cluster, "gpu", HALF_GPU)
    nodes: dict[str, str] = {}
    most_gpu = 0.0
    try:
        _wait("worker node", cluster.nodes, 240, driver, tmp_path)
        scale_up = time.monotonic() - started
        deadline, gone_at = time.monotonic() + 300, None
        while driver.poll() is None:
            assert time.monotonic() < deadline, _log(tmp_path)
            alive = cluster.nodes()
            nodes.update(alive)
            gone_at = None if alive else (gone_at or time.time())
            most_gpu = max(most_gpu, _gpu_in_use(cluster))
            time.sleep(0.5)
        assert driver.returncode == 0, _log(tmp_path)
    finally:
        if driver.poll() is None:
            driver.kill()
    summary = json.loads((tmp_path / "out.json").read_text())
    assert summary["completed"] == 2 and not summary["errored"]
    resolved = _db(tmp_path, "SELECT value FROM params WHERE key = 'use_gpu_resolved'")
    assert resolved == [("True",)]
    ran_on = _tags(tmp_path, "adaptune.node_id")
    assert len(ran_on) == 2 and len(set(ran_on)) == 1, ran_on  # two trials, one node
    assert nodes[ran_on[0]] == "gpu_t4" and set(nodes.values()) == {"gpu_t4"}
    assert most_gpu == 1.0  # two halves of the node's one GPU held at once
    if gone_at is None:  # still up when the search ended
        _node_down(cluster)
        gone_at = time.time()
    # scale-down: the trials' last end -> no worker (the idle timeout, plus the
    # autoscaler's 5 s update period)
    ((last_end,),) = _db(tmp_path, TRIALS_ENDED)
    scale_down = gone_at - last_end / 1000
    assert scale_down < IDLE_S + 30
    _report(capsys, scale_up_s=round(scale_up, 1), scale_down_s=round(scale_down, 1))


def _published(cl: LocalAutoscaler, groups: list[dict[str, Any]]) -> None:
    cl.publish(cl.env, groups)


def test_use_gpu_true_is_refused_before_any_trial_when_no_node_type_has_a_gpu(
    cluster: LocalAutoscaler, tmp_path: Path
) -> None:
    real = node_groups_of(fake_config(CLUSTER, gcs_address=cluster.address))
    _published(cluster, [g for g in real if g["name"] != "gpu_t4"])
    try:
        driver = _search(tmp_path, cluster, "nogpu", "use_gpu: true")
        assert driver.wait(300) == 2, _log(tmp_path)
    finally:
        _published(cluster, real)
    log = _log(tmp_path)
    assert "resources.use_gpu" in log and "cpu_small (CPU 1)" in log, log
    assert _db(tmp_path, "SELECT run_uuid FROM runs") == []  # refused before any run
    assert cluster.nodes() == []


def test_trials_no_node_can_host_wait_then_end_after_node_wait_s(
    cluster: LocalAutoscaler, tmp_path: Path
) -> None:
    real = node_groups_of(fake_config(CLUSTER, gcs_address=cluster.address))
    # a type the autoscaler cannot launch (its config has none): the trials wait for it
    ghost = {"name": "gpu_h100", "resources": {"CPU": 1, "accelerator_type:H100": 1}}
    _published(cluster, [*real, {**ghost, "min": 0, "max": 1}])
    try:
        driver = _search(
            tmp_path, cluster, "ghost", "use_gpu: false, accelerator_type: H100, node_wait_s: 15"
        )
        assert driver.wait(300) == 1, _log(tmp_path)
    finally:
        _published(cluster, real)
    log = _log(tmp_path)
    assert "waiting for nodes: none launching yet" in log, log
    assert "no node came for its waiting trials in 15 s (resources.node_wait_s" in log, log
    assert cluster.nodes() == []
