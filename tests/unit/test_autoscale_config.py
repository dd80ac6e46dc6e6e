"""The fake provider's config made from cluster.yaml (adaptune.autoscale), and a trial's
accelerator request: checked without starting Ray."""

from __future__ import annotations

import yaml
from tests.conftest import ROOT

from adaptune.autoscale import FAKE_HEAD_TYPE, fake_config, gpus_of, load_cluster
from adaptune.driver.tuner import Placement
from adaptune.job.spec import ResourceSpec


def test_worker_types_keep_names_and_ranges_and_get_their_accelerators() -> None:
    spec = load_cluster(ROOT / "cluster.yaml")
    config = fake_config(spec, gcs_address="127.0.0.1:40001", idle_timeout_s=12)
    types = config["available_node_types"]
    workers = {k for k in spec["available_node_types"] if k != spec["head_node_type"]}
    assert set(types) == workers | {FAKE_HEAD_TYPE}
    for name in workers:
        assert types[name]["min_workers"] == spec["available_node_types"][name]["min_workers"]
        assert types[name]["max_workers"] == spec["available_node_types"][name]["max_workers"]
        assert types[name]["resources"]["CPU"] == 1.0
        assert types[name]["labels"]["ray.io/node-group"] == name
    assert types["gpu_a10g"]["resources"] == {"CPU": 1.0, "GPU": 1, "accelerator_type:A10G": 1}
    assert types["gpu_8xh100"]["resources"]["GPU"] == 8
    assert types[FAKE_HEAD_TYPE]["resources"] == {"CPU": 0}
    assert config["idle_timeout_minutes"] * 60 == 12
    assert config["provider"]["gcs_address"] == "127.0.0.1:40001"
    assert config["provider"]["type"] == "fake_multinode"
    assert config["setup_commands"] == [] and config["file_mounts"] == {}
    yaml.safe_dump(config)  # what the head reads


def test_gpus_come_from_resources_or_the_instance_type() -> None:
    assert gpus_of({"node_config": {"InstanceType": "g5.12xlarge"}}) == ("A10G", 4)
    assert gpus_of({"node_config": {"InstanceType": "p4d.24xlarge"}}) == ("A100", 8)
    assert gpus_of({"node_config": {"InstanceType": "m5.2xlarge"}}) is None
    named = {"resources": {"GPU": 2, "accelerator_type:L40S": 1}}
    assert gpus_of(named) == ("L40S", 2)


def test_a_trial_asks_for_a_sliver_of_the_accelerator_with_its_case_kept() -> None:
    from adaptune.plan import trial_resources

    class Job:  # trial_resources reads only `resources`
        resources = ResourceSpec(accelerator_type="A10G", workers_per_trial=2)

    need = trial_resources(Job(), use_gpu=False)  # type: ignore[arg-type]
    assert need == {"CPU": 2.0, "accelerator_type:A10G": 0.002}
    placement = Placement(False, 1, True, {"CPU": 1.0, "accelerator_type:A10G": 0.001})
    assert placement.actor_resources == {"cpu": 1.0, "accelerator_type:A10G": 0.001}
