"""Where trials go, as arithmetic on a cluster's resources (no Ray cluster): a fraction of a
GPU per trial packs several trials on each GPU, `max_concurrent: auto` follows (trials per
GPU times GPUs, or fewer when the CPUs run out first), and the trial actor's bundle asks
Ray for that fraction."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.conftest import write

from adaptune.driver.tuner import needs_dashboard, placement_for
from adaptune.job.spec import load_job
from adaptune.job.yamlfile import SpecError
from adaptune.plan import Plan, make_plan

JOB = """\
name: t
method: dao
data: {{source: synthetic-finsent, n_train: 50}}
fixed: {{epochs: 2}}
search:
  space: space.yaml
  num_samples: {trials}
  max_concurrent: {concurrent}
resources: {{{resources}}}
"""
SPACE = "lr: {type: float, low: 1.0e-5, high: 1.0e-3, log: true}\n"


def plan_of(
    tmp_path: Path,
    resources: str,
    cluster: dict[str, float],
    trials: int = 64,
    concurrent: str = "auto",
) -> Plan:
    write(tmp_path / "space.yaml", SPACE)
    text = JOB.format(trials=trials, concurrent=concurrent, resources=resources)
    return make_plan(load_job(write(tmp_path / "job.yaml", text)), cluster)


@pytest.mark.parametrize(
    ("share", "gpus", "cpus", "expected"),
    [
        (1.0, 1, 16, 1),
        (0.5, 1, 16, 2),
        (0.25, 1, 16, 4),
        (0.125, 1, 16, 8),
        (0.25, 2, 16, 8),  # trials per GPU times GPUs
        (0.33, 1, 16, 3),  # 3 x 0.33 fits one GPU
        (0.125, 1, 4, 4),  # the CPUs run out first
        (2.0, 4, 16, 2),  # whole GPUs per trial
    ],
)
def test_auto_concurrency_is_trials_per_gpu_times_gpus(
    tmp_path: Path, share: float, gpus: int, cpus: int, expected: int
) -> None:
    cluster = {"CPU": float(cpus), "GPU": float(gpus)}
    res = f"workers_per_trial: 1, use_gpu: auto, cpus_per_worker: 1, gpus_per_worker: {share}"
    placement = placement_for(plan_of(tmp_path, res, cluster), cluster)
    assert placement.use_gpu and placement.in_actor
    assert placement.per_trial == {"CPU": 1.0, "GPU": share}
    assert placement.max_concurrent == expected


def test_a_fraction_is_the_trial_actors_bundle_in_ray(tmp_path: Path) -> None:
    from ray import tune

    cluster = {"CPU": 8.0, "GPU": 1.0}
    res = "use_gpu: true, cpus_per_worker: 2, gpus_per_worker: 0.25"
    placement = placement_for(plan_of(tmp_path, res, cluster), cluster)
    assert placement.actor_resources == {"cpu": 2.0, "gpu": 0.25}
    trainable = tune.with_resources(lambda config: None, placement.actor_resources)
    bundles = trainable._resources.bundles  # type: ignore[attr-defined]
    assert bundles == [{"CPU": 2.0, "GPU": 0.25}]
    assert placement.max_concurrent == 4


def test_fewer_trials_than_slots_and_an_explicit_limit_are_kept(tmp_path: Path) -> None:
    cluster = {"CPU": 16.0, "GPU": 1.0}
    res = "use_gpu: auto, gpus_per_worker: 0.125"
    assert placement_for(plan_of(tmp_path, res, cluster, trials=3), cluster).max_concurrent == 3
    fixed = plan_of(tmp_path, res, cluster, concurrent="2")
    assert placement_for(fixed, cluster).max_concurrent == 2


def test_without_a_gpu_auto_trials_take_cpus_only(tmp_path: Path) -> None:
    cluster = {"CPU": 2.0}
    placement = placement_for(plan_of(tmp_path, "gpus_per_worker: 0.25", cluster), cluster)
    assert not placement.use_gpu
    assert placement.per_trial == {"CPU": 1.0} and placement.max_concurrent == 2


def test_a_trial_larger_than_the_cluster_is_refused(tmp_path: Path) -> None:
    cluster = {"CPU": 16.0, "GPU": 2.0}
    job = plan_of(tmp_path, "use_gpu: auto, gpus_per_worker: 4", {"CPU": 16.0, "GPU": 8.0})
    with pytest.raises(SpecError, match="one trial needs 4 GPU"):
        placement_for(job, cluster)


@pytest.mark.parametrize("share", [0.5, 0.25, 0.2, 0.125, 0.1, 0.33, 0.333, 1, 2, 8])
def test_gpu_shares_ray_accepts_are_valid(tmp_path: Path, share: float) -> None:
    cluster = {"CPU": 64.0, "GPU": 8.0}
    plan = plan_of(tmp_path, f"use_gpu: true, gpus_per_worker: {share}", cluster)
    assert plan.job.resources.gpus_per_worker == share


@pytest.mark.parametrize(
    ("resources", "message"),
    [
        ("gpus_per_worker: 0.3", "0.3 of a GPU does not divide it evenly"),
        ("gpus_per_worker: 0.7", "0.7 of a GPU does not divide it evenly"),
        ("gpus_per_worker: 1.5", "above 1 it must be a whole number"),
        ("gpus_per_worker: 2.5", "above 1 it must be a whole number"),
        ("gpus_per_worker: 0", "greater than 0"),
        ("gpus_per_worker: 0.5, workers_per_trial: 2", "needs workers_per_trial: 1"),
    ],
)
def test_gpu_shares_ray_would_refuse_are_one_line_errors(
    tmp_path: Path, resources: str, message: str
) -> None:
    with pytest.raises(SpecError) as caught:
        plan_of(tmp_path, resources, {"CPU": 4.0, "GPU": 1.0})
    (problem,) = caught.value.problems
    assert problem.key == "resources.gpus_per_worker" and problem.line == 9
    assert message in problem.message


@pytest.mark.parametrize(
    ("resources", "needed"),
    [
        ("workers_per_trial: 1, cpus_per_worker: 1", False),  # the trial actor trains
        ("workers_per_trial: 1, cpus_per_worker: 1, worker_group: always", True),
        ("workers_per_trial: 2, cpus_per_worker: 1", True),
    ],
)
def test_the_dashboard_only_for_worker_group_trials(
    tmp_path: Path, resources: str, needed: bool
) -> None:
    cluster = {"CPU": 4.0}
    plan = plan_of(tmp_path, resources, cluster)
    assert needs_dashboard([plan]) is needed
    assert placement_for(plan, cluster).in_actor is not needed
    in_actor = plan_of(tmp_path / "other", "workers_per_trial: 1", cluster)
    assert needs_dashboard([in_actor, plan]) is needed  # a job: any of its searches
