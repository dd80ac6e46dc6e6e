"""The node types an autoscaling cluster can launch, and a search's wait for their nodes.

    types = node_types(gcs_address)            # [] when the cluster makes none known
    cluster = reachable(live, types)           # what place() checks one trial against
    callbacks = watch(plan, progress, stop)    # NodeWait where an autoscaler runs

Ray's autoscaler launches nodes only as trials ask for them, so the nodes alive when a
search starts (a GPU-less head) are not what its trials can use. The node types come from
the GCS, where an autoscaler publishes them (Ray's ClusterConfig; `adaptune cluster
local-autoscale` does, Ray 2.60's own autoscalers do not), else from the cluster launcher's
copy of cluster.yaml on the head ($ADAPTUNE_AUTOSCALING_CONFIG, else
~/ray_bootstrap_config.yaml, read when the driver runs on the head, as `adaptune submit`'s
does). Without either, a search plans with the nodes alive and its own trial's needs.

``ADAPTUNE_FAKE_GPU=1`` is a test-only switch (tests/integration/test_gpu_autoscale.py):
trials hold the GPUs Ray accounts on nodes that have no CUDA device (the fake provider's)
and train on the CPU. Off in production: a trial refuses it on a node with CUDA.
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ray.tune import Callback

from adaptune.driver import upstream
from adaptune.driver.console import CONSOLE, Progress, clock
from adaptune.driver.interrupt import Stop
from adaptune.job.yamlfile import SpecError

if TYPE_CHECKING:
    from adaptune.job.spec import JobSpec
    from adaptune.plan import Plan

__all__ = [
    "FAKE_GPU_ENV",
    "NodeType",
    "NodeWait",
    "NodeWaitExpired",
    "fake_gpu",
    "node_types",
    "reachable",
    "refuse_gpu_nowhere",
    "watch",
]

FAKE_GPU_ENV = "ADAPTUNE_FAKE_GPU"  # test-only: "1" trains on the CPU while Ray accounts GPUs
CONFIG_ENV = "ADAPTUNE_AUTOSCALING_CONFIG"  # the autoscaler's cluster config on the head
LAUNCHER_CONFIG = "~/ray_bootstrap_config.yaml"  # where `ray up` puts it on the head
HEAD_RESOURCE = "node:__internal_head__"
POLL_S = 2.0  # how often a waiting search asks the autoscaler what it launches


def fake_gpu() -> bool:
    """Whether the test-only ADAPTUNE_FAKE_GPU switch is on."""
    return os.environ.get(FAKE_GPU_ENV, "") not in ("", "0")


@dataclass(frozen=True)
class NodeType:
    """A worker type the autoscaler may launch: what one node offers, and how many."""

    name: str
    resources: dict[str, float]
    max_workers: int  # -1: no bound

    def text(self) -> str:
        shown = {k: v for k, v in self.resources.items() if k in ("CPU", "GPU")}
        shown |= {k: v for k, v in self.resources.items() if k.startswith("accelerator_type:")}
        return f"{self.name} ({', '.join(f'{k} {v:g}' for k, v in shown.items()) or 'nothing'})"


def node_types(gcs_address: str) -> list[NodeType]:
    """The worker types the connected cluster may scale to ([] when none is known)."""
    groups = upstream.node_groups(gcs_address)
    if not groups and (path := _launcher_config()) is not None:
        from adaptune.autoscale import load_cluster, node_groups_of

        try:
            groups = node_groups_of(load_cluster(path))
        except (OSError, ValueError):  # not a cluster config: as if there were none
            groups = []
    return [NodeType(g["name"], g["resources"], g["max"]) for g in groups if g["max"] != 0]


def _launcher_config() -> Path | None:
    if os.environ.get(CONFIG_ENV):
        return Path(os.environ[CONFIG_ENV]).expanduser()
    path = Path(LAUNCHER_CONFIG).expanduser()
    return path if path.is_file() and _on_head() else None


def _on_head() -> bool:
    import ray

    me = ray.get_runtime_context().get_node_id()
    return any(n["NodeID"] == me and HEAD_RESOURCE in n["Resources"] for n in ray.nodes())


def reachable(live: dict[str, float], types: list[NodeType]) -> dict[str, float]:
    """What the cluster can hold: the nodes alive plus each type at its max_workers (as
    Ray sums a ClusterConfig; a type with no bound counts once)."""
    out = dict(live)
    for t in types:
        for k, v in t.resources.items():
            out[k] = out.get(k, 0.0) + v * (t.max_workers if t.max_workers > 0 else 1)
    return out


def refuse_gpu_nowhere(job: JobSpec, live: dict[str, float], types: list[NodeType]) -> None:
    """SpecError, before any trial, for `use_gpu: true` where no node alive has a GPU and
    no node type the autoscaler can launch offers one (naming the types)."""
    if job.resources.use_gpu is not True or live.get("GPU"):
        return
    if not any(t.resources.get("GPU") for t in types):
        named = "; ".join(t.text() for t in types)
        message = (
            f"true, but no node has a GPU and no node type the autoscaler can launch "
            f"offers one ({named}); add a GPU node type or use 'auto' to train on CPU"
        )
        raise SpecError([job.problem("resources.use_gpu", message)])


def watch(plan: Plan, progress: Progress, stop: Stop) -> list[Callback]:
    """The Tuner's NodeWait where an autoscaler runs (its monitor has reported) and can
    launch nodes (node types are known), else []: a local or fixed cluster's trials wait
    only for each other, and saying "waiting for nodes" there misleads."""
    import ray

    gcs = ray.get_runtime_context().gcs_address
    if not upstream.autoscaler_status(gcs) or not node_types(gcs):
        return []
    return [NodeWait(gcs, plan.job.resources.node_wait_s, progress, stop)]


class NodeWaitExpired(RuntimeError):
    """No node came for the search's waiting trials in resources.node_wait_s."""


class NodeWait(Callback):
    """While trials wait for nodes: the progress line (and one line each time it changes)
    says which node types the autoscaler launches; when no trial has run for `wait_s`
    while some wait, the search stops (NodeWaitExpired, resumable)."""

    def __init__(self, gcs_address: str, wait_s: float, progress: Progress, stop: Stop):
        self.gcs, self.wait_s, self.progress, self.stop = gcs_address, wait_s, progress, stop
        self.since: float | None = None  # when trials began waiting with none running
        self.checked = -math.inf

    def on_step_end(self, iteration: int, trials: list[Any], **info: Any) -> None:
        now = time.monotonic()
        if now - self.checked < POLL_S:
            return
        self.checked = now
        states = {str(t.status) for t in trials}
        running = "RUNNING" in states
        self.since = None if running or "PENDING" not in states else (self.since or now)
        launching = self.launching() if "PENDING" in states else ""
        text = ""
        if launching or self.since is not None:
            text = f"waiting for nodes: {launching or 'none launching yet'}"
            if self.since is not None:
                text += f" ({clock(now - self.since)} with no trial running)"
        if text.partition(" (")[0] != self.progress.waiting.partition(" (")[0] and text:
            CONSOLE.say(text)
        self.progress.waiting = text
        CONSOLE.progress(self.progress)
        if self.since is not None and now - self.since > self.wait_s:
            self.stop.request(
                f"no node came for its waiting trials in {self.wait_s:g} s "
                f"(resources.node_wait_s; {launching or 'the autoscaler launched none'})",
                fault=NodeWaitExpired,
            )

    def launching(self) -> str:
        """The autoscaler's launches under way: "gpu_t4 x1 launching, ..."."""
        try:
            report = upstream.autoscaler_status(self.gcs).get("autoscaler_report") or {}
        except Exception:  # the GCS did not answer this time: asked again in POLL_S
            return ""
        counts = {str(k): int(v) for k, v in (report.get("pending_launches") or {}).items()}
        for node in report.get("pending_nodes") or []:  # [ip, type, status]
            if isinstance(node, list | tuple) and len(node) > 1:
                counts[str(node[1])] = counts.get(str(node[1]), 0) + 1
        return ", ".join(f"{k} x{v} launching" for k, v in sorted(counts.items()))

    def __getstate__(self) -> dict[str, Any]:  # pickled with Tune's state: nothing live
        state = {"gcs": self.gcs, "wait_s": self.wait_s, "since": None, "checked": -math.inf}
        return {**state, "progress": Progress(total=0, max_t=0), "stop": Stop()}
