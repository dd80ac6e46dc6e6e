"""The cost ledger: what each trial cost, and what the search cost and saved.

    pricer = Pricer(plan.job.pricing, placement.per_trial, plan.max_t)
    spent = pricer.cost(trial.last_result, stopped=True)   # node type, hours, USD
    spend = totals(ledger, pricer)              # the search's totals (driver/ledger.py)

A trial's price per hour is its node's hourly price (job/pricing.py: the job's
``node_types``, else the node's ``adaptune.io/usd-per-hour`` label) times its share of
the node, else its CPUs and GPUs at the job's CPU- and GPU-hour prices. Its hours are
its wall time (Tune's ``time_total_s``, worker start included) on the node its last
result came from. What early stopping saved: a stopped trial's cost per epoch times the
epochs it did not run, up to ``max_t``.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from adaptune.job.pricing import LOCAL, NODE_TYPE_LABEL, PricingSpec, label_price
from adaptune.tracking.names import Status
from adaptune.train import report as rk

if TYPE_CHECKING:
    from adaptune.driver.ledger import Ledger

__all__ = [
    "Node",
    "Pricer",
    "Spend",
    "TrialCost",
    "node_of",
    "totals",
    "trial_cost",
    "usd_per_hour",
]

UNKNOWN = "unknown"  # a trial that reported nothing: no node to name


@dataclass(frozen=True)
class Node:
    type: str  # cluster.yaml's node type; "local" for a node no autoscaler started
    resources: dict[str, float] = field(default_factory=dict)  # the node's total
    usd_per_hour: float | None = None  # the whole node; None: no price of its own


@dataclass(frozen=True)
class TrialCost:
    node_type: str
    hours: float  # wall hours
    usd: float
    resource_hours: dict[str, float]  # {"CPU": cpu-hours, "GPU": ...} held
    saved_hours: dict[str, float]  # ... that early stopping saved
    usd_saved: float


def node_of(entry: Mapping[str, Any], pricing: PricingSpec) -> tuple[Node, str | None]:
    """A node of Ray's node table (``ray.nodes()``) priced: the job's price for its type,
    else its label's. Returns the node and a warning (a malformed label is charged at
    the CPU/GPU-hour prices, not fatal: the search has run)."""
    labels = dict(entry.get("Labels") or {})
    kind = str(labels.get(NODE_TYPE_LABEL) or LOCAL)
    resources = {str(k): float(v) for k, v in (entry.get("Resources") or {}).items()}
    price, warning = pricing.node_types.get(kind), None
    if price is None:
        try:
            price = label_price(labels, kind)
        except ValueError as e:
            warning = f"{e}; charged at the job's CPU- and GPU-hour prices"
    return Node(kind, resources, price), warning


def usd_per_hour(per_trial: Mapping[str, float], node: Node, pricing: PricingSpec) -> float:
    """What one trial holding `per_trial` costs per hour on `node`."""
    gpus, cpus = per_trial.get("GPU", 0.0), per_trial.get("CPU", 0.0)
    if node.usd_per_hour is not None:
        key = "GPU" if gpus > 0 and node.resources.get("GPU", 0.0) > 0 else "CPU"
        total = node.resources.get(key, 0.0)
        if total > 0:  # a node of no CPUs (a head that runs no trials) has no share to sell
            return node.usd_per_hour * min(1.0, per_trial.get(key, 0.0) / total)
    return cpus * pricing.usd_per_cpu_hour + gpus * pricing.usd_per_gpu_hour


def trial_cost(
    result: Mapping[str, Any],
    stopped: bool,
    per_trial: Mapping[str, float],
    node: Node,
    pricing: PricingSpec,
    max_t: int,
) -> TrialCost:
    """A trial's cost from its last result (``time_total_s``, ``epoch``, ``epochs``)."""
    hours = float(result.get(rk.TIME_TOTAL_S) or 0.0) / 3600
    epoch = int(result.get(rk.EPOCH) or 0)
    end = min(int(result.get(rk.EPOCHS) or max_t), max_t)
    left = max(0, end - epoch) if stopped and epoch else 0
    saved = hours / epoch * left if epoch else 0.0
    rate = usd_per_hour(per_trial, node, pricing)
    return TrialCost(
        node_type=node.type,
        hours=hours,
        usd=rate * hours,
        resource_hours={k: v * hours for k, v in per_trial.items()},
        saved_hours={k: v * saved for k, v in per_trial.items()},
        usd_saved=rate * saved,
    )


class Pricer:
    """The driver's: each trial's cost, its node looked up once in Ray's node table."""

    def __init__(self, pricing: PricingSpec, per_trial: Mapping[str, float], max_t: int):
        self.pricing, self.max_t = pricing, max_t
        # CPU and GPU only: a custom resource (accelerator_type:A10G) is a placement
        # constraint, not hours anyone bills
        self.per_trial = {k: v for k, v in per_trial.items() if k in ("CPU", "GPU")}
        self.nodes: dict[str, Node] = {}
        self.warned: set[str] = set()

    def node(self, node_id: str | None) -> Node:
        if not node_id:
            return Node(UNKNOWN)
        if node_id not in self.nodes:
            import ray

            for entry in ray.nodes():
                node, warning = node_of(entry, self.pricing)
                self.nodes[str(entry.get("NodeID"))] = node
                if warning and warning not in self.warned:
                    self.warned.add(warning)
                    print(f"warning: {warning}", file=sys.stderr, flush=True)
        return self.nodes.get(node_id, Node(UNKNOWN))

    def cost(self, result: Mapping[str, Any], stopped: bool) -> TrialCost:
        node = self.node(result.get(rk.NODE_ID))
        return trial_cost(result, stopped, self.per_trial, node, self.pricing, self.max_t)


@dataclass(frozen=True)
class Spend:
    """A search's compute and cost, summed over its trials."""

    resource_hours: dict[str, float] = field(default_factory=dict)  # CPU/GPU-hours used
    saved_hours: dict[str, float] = field(default_factory=dict)  # ... saved by early stopping
    cost_usd: float = 0.0
    usd_saved: float = 0.0  # what the stopped trials would have cost to max_t
    node_usd: dict[str, float] = field(default_factory=dict)  # node type -> USD


def totals(ledger: Ledger, pricer: Pricer) -> Spend:
    """The search's totals from each trial's cost: the recorder's, else priced here (a
    trial that ended before a resume; its entry gets it)."""
    hours = {k: 0.0 for k in pricer.per_trial}
    saved = {k: 0.0 for k in pricer.per_trial}
    usd = usd_saved = 0.0
    node_usd: dict[str, float] = {}
    for t in ledger.trials():
        e = ledger.entry(t.trial_id)
        if e.cost is None:
            e.cost = pricer.cost(t.last_result or {}, e.status is Status.STOPPED)
        c = e.cost
        for k in pricer.per_trial:
            hours[k] += c.resource_hours.get(k, 0.0)
            saved[k] += c.saved_hours.get(k, 0.0)
        usd, usd_saved = usd + c.usd, usd_saved + c.usd_saved
        node_usd[c.node_type] = node_usd.get(c.node_type, 0.0) + c.usd
    return Spend(hours, saved, usd, usd_saved, node_usd)
