"""`adaptune cluster k8s`: cluster.yaml as Kubernetes manifests for KubeRay (kuberay.py).

    adaptune cluster k8s                                  # RayCluster + MLflow, to stdout
    adaptune cluster k8s --job jobs/dao_finsent.yaml --image REGISTRY/adaptune:0.1.0 \\
        --storage-path s3://my-bucket/ray --out k8s/      # + a RayJob; one file each

A job is validated here first, as `adaptune submit` does: a bad spec never reaches the
cluster.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from adaptune.commands.output import EXIT_BAD_INPUT

__all__ = ["cmd_k8s"]


def cmd_k8s(args: argparse.Namespace) -> int:
    from adaptune import kuberay
    from adaptune.cluster import checked_job

    cluster = kuberay.read_cluster(args.config)  # a SpecError: cli.main says it, exit 2
    job = None
    if args.job:
        try:
            job = checked_job(args.job)
        except ValueError as e:  # a job outside the project the image holds
            print(f"error: {e}", file=sys.stderr)
            return EXIT_BAD_INPUT
        if not args.storage_path:
            print(
                "note: no --storage-path: trials on different pods share no checkpoints "
                "(pass s3://… or gs://…, as for `adaptune submit`)",
                file=sys.stderr,
            )
    image = args.image or kuberay.DEFAULT_IMAGE
    files = kuberay.manifests(cluster, image=image, job=job, storage_path=args.storage_path)
    if not args.out:
        print("---\n".join(kuberay.dump(docs) for docs in files.values()), end="")
        return 0
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for name, docs in files.items():
        (out / name).write_text(kuberay.dump(docs))
        print(out / name)
    return 0
