"""`adaptune cluster local-autoscale`: rehearse cluster.yaml's autoscaling on this machine.

    adaptune cluster local-autoscale                       # until Ctrl-C
    adaptune cluster local-autoscale --write-config fake.yaml   # only write the config

Starts a head with Ray's autoscaler over its fake multi-node provider (autoscale.py),
prints how to run a search on it, then one line per node that comes or goes, until
Ctrl-C; then it stops every process it started (by process id).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from adaptune.commands.output import EXIT_BAD_INPUT

if TYPE_CHECKING:
    from adaptune.autoscale import LocalAutoscaler

__all__ = ["cmd_cluster"]


def cmd_cluster(args: argparse.Namespace) -> int:
    from adaptune import autoscale

    if args.action == "k8s":
        from adaptune.commands.k8s import cmd_k8s

        return cmd_k8s(args)
    try:
        spec = autoscale.load_cluster(args.config)
    except (OSError, ValueError, yaml.YAMLError) as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_BAD_INPUT

    def config_of(gcs: str) -> dict[str, Any]:
        return autoscale.fake_config(
            spec, gcs_address=gcs, cpus_per_node=args.cpus_per_node, idle_timeout_s=args.idle_s
        )

    if args.write_config:
        Path(args.write_config).write_text(yaml.safe_dump(config_of("127.0.0.1:6379")))
        print(f"wrote {args.write_config} (provider.gcs_address: set it to your head's)")
        return 0
    base = Path(args.dir or tempfile.mkdtemp(prefix="adaptune-autoscale-"))
    cluster = autoscale.LocalAutoscaler(base, config_of)
    print(f"starting a head with Ray's autoscaler under {base} ...", file=sys.stderr)
    with cluster:
        print(_guide(cluster, autoscale.describe(config_of(cluster.address))), flush=True)
        try:
            _watch(cluster)
        except KeyboardInterrupt:
            print("\nstopping what it started ...", file=sys.stderr)
    return 0


def _guide(cluster: LocalAutoscaler, types: str) -> str:
    address, dashboard = cluster.address, cluster.dashboard
    return f"""\
head: {address}   dashboard: {dashboard}   (no CPU, no accelerator: trials need workers)
worker types (0 now; each one CPU here, its GPUs as resources):
  {types.replace(chr(10), chr(10) + "  ")}
run a search whose trials need an A10G (they train on the CPU):
  adaptune search jobs/quickstart.yaml --address {address} \\
    --set resources.accelerator_type=A10G --set search.max_concurrent=2
the autoscaler's view:  ray status --address {address}
nodes as they come and go (Ctrl-C stops the cluster):"""


def _watch(cluster: LocalAutoscaler) -> None:
    """A line per node that joins or leaves, with the seconds since the previous change."""
    seen: dict[str, str] = {}
    since = time.monotonic()
    while True:
        now = dict(cluster.nodes())
        for node, kind in now.items():
            if node not in seen:
                print(f"+ {kind or '?'} {node[-8:]}  ({time.monotonic() - since:.1f} s)")
                since = time.monotonic()
        for node, kind in seen.items():
            if node not in now:
                print(f"- {kind or '?'} {node[-8:]}  ({time.monotonic() - since:.1f} s)")
                since = time.monotonic()
        sys.stdout.flush()
        seen = now
        time.sleep(2)
