"""What compute costs: a job's ``pricing:`` section and the price a cluster node carries.

    pricing:                        # in a job file; every key optional
      usd_per_cpu_hour: 0.048       # a node with no price of its own: per CPU a trial holds
      usd_per_gpu_hour: 0.814       #   ... and per GPU
      node_types: {gpu_a10g_spot: 0.45}   # a whole node of that type, per hour

A node type's hourly price lives in ``cluster.yaml`` as a Ray node label,
``adaptune.io/usd-per-hour: "1.212"``: Ray's config schema accepts ``labels`` on a node
type, and its autoscaler puts them, with the type's name (``ray.io/node-group``), on every
node it starts. A trial on such a node is charged the node's price times its share of
the node (its GPUs of the node's GPUs, else its CPUs of the node's CPUs); the job's
``node_types`` overrides a label (a negotiated or current spot price). A node with no
price (the embedded local cluster, a ``ray start`` by hand) charges the CPU- and GPU-hour
prices. The search driver does the arithmetic (driver/cost.py); this module only reads
and checks prices, so ``adaptune validate`` refuses a bad one with its file and line.
"""

from __future__ import annotations

import math
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "DEFAULT_USD_PER_CPU_HOUR",
    "LOCAL",
    "NODE_PRICE_LABEL",
    "NODE_TYPE_LABEL",
    "PricingSpec",
    "dollars",
    "label_price",
]

# AWS on-demand, us-east-1 (2025): an m5 vCPU is $0.048/h (m5.large, 2 vCPUs, $0.096/h);
# an A10G GPU-hour is g5.xlarge's $1.006/h less its 4 vCPUs at that price.
DEFAULT_USD_PER_CPU_HOUR = 0.048
DEFAULT_USD_PER_GPU_HOUR = 0.814
NODE_PRICE_LABEL = "adaptune.io/usd-per-hour"  # on a cluster.yaml node type: the whole node
NODE_TYPE_LABEL = "ray.io/node-group"  # set by Ray's autoscaler: the node type's name
LOCAL = "local"  # the node type of a node no autoscaler started

Price = Annotated[float, Field(ge=0)]


class PricingSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False, strict=True)

    usd_per_cpu_hour: Price = DEFAULT_USD_PER_CPU_HOUR
    usd_per_gpu_hour: Price = DEFAULT_USD_PER_GPU_HOUR
    # cluster.yaml node type -> USD per hour of a whole node (over its label's price)
    node_types: dict[str, Price] = Field(default_factory=dict)


def dollars(usd: float) -> str:
    """$1234.56, $3.41, $0.0251: four decimals for a small search's cents."""
    return f"${usd:.2f}" if usd >= 1 else f"${usd:.4f}"


def label_price(labels: dict[str, str], node_type: str = "") -> float | None:
    """The node's hourly price from its ``adaptune.io/usd-per-hour`` label; None without
    one. ValueError (one line, naming the node type and the label) when it is not a
    finite number >= 0."""
    text = labels.get(NODE_PRICE_LABEL)
    if text is None:
        return None
    try:
        price = float(text)
    except ValueError:
        price = math.nan
    if not math.isfinite(price) or price < 0:
        where = f"node type {node_type}" if node_type else "node"
        raise ValueError(
            f"{where}: label {NODE_PRICE_LABEL}={text!r} is not a price "
            "(USD per hour of the whole node, a number >= 0)"
        )
    return price
