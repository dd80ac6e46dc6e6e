"""cluster.yaml passes the Ray cluster launcher's own config validation."""

from __future__ import annotations

import yaml
from tests.conftest import ROOT


def test_cluster_yaml_passes_ray_validation() -> None:
    from ray.autoscaler._private.util import prepare_config, validate_config

    config = prepare_config(yaml.safe_load((ROOT / "cluster.yaml").read_text()))
    validate_config(config)
    gpu = [n for n in config["available_node_types"] if n.startswith("gpu")]
    assert gpu and all(config["available_node_types"][n]["min_workers"] == 0 for n in gpu)
