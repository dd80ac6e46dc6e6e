"""Placement that knows what the autoscaler can launch (driver/nodes.py), without a cluster:
cluster.yaml's worker types as node groups, the GPU choice on a GPU-less head, the
refusal of `use_gpu: true` where no node type has a GPU (naming the types), the progress
line while trials wait for nodes, and the stop when none comes in node_wait_s."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError
from tests.conftest import ROOT, write

from adaptune.autoscale import load_cluster, node_groups_of
from adaptune.driver import nodes
from adaptune.driver.console import Progress
from adaptune.driver.interrupt import Stop, stopped
from adaptune.driver.tuner import placement_for
from adaptune.job.resources import ResourceSpec
from adaptune.job.spec import load_job
from adaptune.job.yamlfile import SpecError
from adaptune.plan import Plan, make_plan
from adaptune.train.worker import check_gpu

JOB = """\
name: t
method: dao
data: {{source: synthetic-finsent, n_train: 50}}
fixed: {{epochs: 2}}
search: {{space: space.yaml, num_samples: 4}}
resources: {{{resources}}}
"""
SPACE = "lr: {type: float, low: 1.0e-5, high: 1.0e-3, log: true}\n"
HEAD = {"CPU": 0.0, "memory": 1e9}  # the shipped cluster.yaml's head: no CPU, no GPU


def plan_of(tmp_path: Path, resources: str) -> Plan:
    write(tmp_path / "space.yaml", SPACE)
    job = load_job(write(tmp_path / "job.yaml", JOB.format(resources=resources)))
    return make_plan(job, {"CPU": 64.0, "GPU": 8.0})  # placement is checked below


def types_of(groups: list[dict[str, Any]]) -> list[nodes.NodeType]:
    return [nodes.NodeType(g["name"], g["resources"], g["max"]) for g in groups]


SHIPPED = types_of(node_groups_of(load_cluster(ROOT / "cluster.yaml")))
CPU_ONLY = [nodes.NodeType("cpu_small", {"CPU": 2.0}, 4), nodes.NodeType("cpu_big", {"CPU": 8}, 1)]


def test_cluster_yaml_worker_types_offer_their_instances_gpus_and_cpus() -> None:
    by_name = {t.name: t.resources for t in SHIPPED}
    assert "head" not in by_name
    assert by_name["gpu_a10g"] == {"CPU": 8.0, "GPU": 1.0, "accelerator_type:A10G": 1.0}
    assert by_name["gpu_8xh100"]["GPU"] == 8.0 and by_name["gpu_8xh100"]["CPU"] == 192.0


@pytest.mark.parametrize("use_gpu", ["auto", "true"])
def test_a_gpu_less_head_trains_on_gpus_the_autoscaler_can_launch(
    tmp_path: Path, use_gpu: str
) -> None:
    plan = plan_of(tmp_path, f"use_gpu: {use_gpu}, gpus_per_worker: 0.5")
    nodes.refuse_gpu_nowhere(plan.job, HEAD, SHIPPED)  # not refused
    placement = placement_for(plan, nodes.reachable(HEAD, SHIPPED))
    assert placement.use_gpu and placement.per_trial == {"CPU": 1.0, "GPU": 0.5}
    assert placement.max_concurrent == 4  # the 4 trials fit what the types can hold


def test_use_gpu_true_is_refused_naming_the_node_types_when_none_has_a_gpu(
    tmp_path: Path,
) -> None:
    plan = plan_of(tmp_path, "use_gpu: true")
    with pytest.raises(SpecError) as e:
        nodes.refuse_gpu_nowhere(plan.job, HEAD, CPU_ONLY)
    (problem,) = e.value.problems
    assert problem.key == "resources.use_gpu" and problem.line is not None
    assert "cpu_small (CPU 2)" in problem.message and "cpu_big (CPU 8)" in problem.message
    # auto falls back to the CPU; a GPU alive now is enough for true
    nodes.refuse_gpu_nowhere(plan_of(tmp_path, "use_gpu: auto").job, HEAD, CPU_ONLY)
    nodes.refuse_gpu_nowhere(plan.job, {**HEAD, "GPU": 1.0}, CPU_ONLY)
    assert not placement_for(plan_of(tmp_path, "use_gpu: auto"), {"CPU": 26.0}).use_gpu


def test_reachable_sums_each_type_at_its_max() -> None:
    types = [*CPU_ONLY, nodes.NodeType("any", {"GPU": 1.0}, -1)]
    assert nodes.reachable({"CPU": 1.0}, types) == {"CPU": 1 + 8 + 8, "GPU": 1.0}


def test_node_wait_has_a_sane_default_and_must_be_positive() -> None:
    assert ResourceSpec().node_wait_s == 600
    with pytest.raises(ValidationError):
        ResourceSpec(node_wait_s=0)


class _Trial:
    def __init__(self, status: str):
        self.status = status


def test_waiting_trials_show_the_node_types_launching_then_stop_the_search(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    report = {"autoscaler_report": {"pending_launches": {"gpu_t4": 1}, "pending_nodes": []}}
    monkeypatch.setattr(nodes.upstream, "autoscaler_status", lambda gcs: report)
    progress, stop = Progress(total=2, max_t=2), Stop()
    wait = nodes.NodeWait("127.0.0.1:1", 60.0, progress, stop)
    wait.on_step_end(1, [_Trial("PENDING"), _Trial("PENDING")])
    assert progress.waiting.startswith("waiting for nodes: gpu_t4 x1 launching")
    assert "waiting for nodes: gpu_t4 x1 launching" in progress.line(5.0)
    assert not stop.why
    wait.since, wait.checked = wait.since - 61, -1e9  # type: ignore[operator]
    wait.on_step_end(2, [_Trial("PENDING"), _Trial("PENDING")])
    assert "no node came for its waiting trials in 60 s" in stop.why
    error = stopped(stop, 0, 2, "s1", Path("state"), {"job_key": "t"})
    assert isinstance(error, nodes.NodeWaitExpired) and "resume t" in str(error)
    # a trial running: no longer waiting
    wait.checked = -1e9
    wait.on_step_end(3, [_Trial("RUNNING"), _Trial("TERMINATED")])
    assert progress.waiting == "" and wait.since is None


def test_the_fake_gpu_switch_is_refused_where_cuda_is_real() -> None:
    check_gpu("fake", cuda=False)
    check_gpu("yes", cuda=True)
    check_gpu("", cuda=False)
    with pytest.raises(RuntimeError, match="test-only"):
        check_gpu("fake", cuda=True)
    with pytest.raises(RuntimeError, match="no CUDA device"):
        check_gpu("yes", cuda=False)


def test_a_search_for_a_cluster_leaves_the_gpu_check_to_the_cluster(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A GPU-less machine (a laptop, the head) starting a search on a cluster: use_gpu:
    true is checked against the cluster once connected (place), not here."""
    import argparse

    import torch

    from adaptune.commands.validate import load_plans

    plan_of(tmp_path, "use_gpu: true")  # writes job.yaml and space.yaml
    job = str(tmp_path / "job.yaml")
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    if not torch.cuda.is_available():
        with pytest.raises(SpecError, match="no GPU"):
            load_plans(job, argparse.Namespace(address=None))
    assert load_plans(job, argparse.Namespace(address="127.0.0.1:6379"))
    monkeypatch.setenv("RAY_ADDRESS", "127.0.0.1:6379")
    assert load_plans(job, argparse.Namespace())
