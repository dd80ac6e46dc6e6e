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


def test_every_node_type_carries_a_valid_hourly_price_label() -> None:
    """The cost ledger's prices (job/pricing.py): a label Ray's syntax check accepts, whose
    value reads as a price; the autoscaler puts it on every node of the type."""
    from ray._private.label_utils import validate_node_label_syntax

    from adaptune.job.pricing import NODE_PRICE_LABEL, label_price

    types = yaml.safe_load((ROOT / "cluster.yaml").read_text())["available_node_types"]
    for name, spec in types.items():
        labels = spec.get("labels") or {}
        validate_node_label_syntax(labels)
        price = label_price(labels, name)
        assert price is not None and price > 0, f"{name}: no {NODE_PRICE_LABEL} label"
