"""`adaptune submit|status|logs|stop`: a search as a Ray job on a cluster (cluster.py).

adaptune submit jobs/quickstart.yaml --address http://127.0.0.1:8265
adaptune logs raysubmit_XYZ --follow
"""

from __future__ import annotations

import argparse
import sys

from adaptune.commands.output import EXIT_BAD_INPUT, Output

__all__ = ["cmd_logs", "cmd_status", "cmd_stop", "cmd_submit"]


def cmd_submit(args: argparse.Namespace) -> int:
    from adaptune.api import submit
    from adaptune.commands.validate import overrides_of
    from adaptune.job.spec import JobSpec

    try:
        sid = submit(
            JobSpec.from_yaml(args.job, overrides_of(args)),
            args.address,
            tracking_uri=args.tracking_uri,
            storage_path=args.storage_path,
            submission_id=args.submission_id,
            trust_remote_code=args.trust_remote_code,
            excludes=args.exclude,
        ).id
    except ValueError as e:  # a job file outside the project, a working_dir too large
        print(f"error: {e}", file=sys.stderr)
        return EXIT_BAD_INPUT
    with Output(args) as out:
        out.json({"submission_id": sid, "address": args.address})
        print(sid)
    print(f"follow: adaptune logs {sid} --follow --address {args.address}", file=sys.stderr)
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    import json

    from adaptune import cluster

    print(json.dumps(cluster.status(args.submission_id, args.address), indent=2, default=str))
    return 0


def cmd_logs(args: argparse.Namespace) -> int:
    from adaptune import cluster

    print(cluster.logs(args.submission_id, args.address, follow=args.follow), end="")
    return 0


def cmd_stop(args: argparse.Namespace) -> int:
    from adaptune import cluster

    stopped = cluster.stop(args.submission_id, args.address)
    print("stop requested" if stopped else "already finished")
    return 0
