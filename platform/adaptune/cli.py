"""adaptune — hyperparameter search on Ray for DAO, DAMA, MAD and DALLMi, tracked in MLflow.

    adaptune methods
    adaptune validate jobs/quickstart.yaml
    adaptune search jobs/quickstart.yaml --set search.num_samples=4
    adaptune resume quickstart-20261124-101500          # after a crash
    adaptune promote quickstart-20261124-101500 --dry-run
    adaptune report quickstart-20261124-101500 [--open]
    adaptune ui [--server]
    adaptune submit jobs/quickstart.yaml --address http://127.0.0.1:8265
    adaptune status|logs|stop SUBMISSION_ID

Exit codes: 0 ok, 1 the search or a command failed, 2 bad input (nothing was started).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from adaptune.job.spec import load_job, parse_override
from adaptune.job.yamlfile import SpecError

EXIT_FAILED, EXIT_BAD_INPUT = 1, 2


def _state_dir(args: argparse.Namespace) -> Path:
    from adaptune.tracking import default_state_dir

    return Path(args.state_dir).resolve() if args.state_dir else default_state_dir()


def cmd_methods(args: argparse.Namespace) -> int:
    import dataclasses

    from adaptune.methods import METHODS

    for name, m in sorted(METHODS.items()):
        fields = ", ".join(f.name for f in dataclasses.fields(m.config_cls))
        print(
            f"{name:8s} {m.description}\n         objective {m.metric} ({m.mode}); "
            f"metrics: {', '.join(m.metrics)}\n         config: {fields}"
        )
    return 0


def _plans(path: str, overrides: list[str] | None = None) -> list[Any]:
    from adaptune.plan import make_plans

    sets = dict(parse_override(s) for s in overrides or [])
    return make_plans(load_job(path, sets))


def cmd_validate(args: argparse.Namespace) -> int:
    bad = 0
    for path in args.jobs:
        try:
            plans = _plans(path, args.set)
        except SpecError as e:
            print(e, file=sys.stderr)
            bad += 1
            continue
        for plan in plans:
            _describe(path, plan)
    return EXIT_BAD_INPUT if bad else 0


def _describe(path: str, plan: Any) -> None:
    s = plan.job.the_search
    print(
        f"ok: {path} [{plan.job.name}]: {plan.method.name}, {plan.num_samples} trials, "
        f"{s.sampler} + "
        f"{s.scheduler.type}, {len(plan.space)} searched ({', '.join(plan.space)}), "
        f"objective {plan.metric} ({plan.mode}), max_t {plan.max_t} epochs"
    )


def cmd_search(args: argparse.Namespace) -> int:
    plans = _plans(args.job, args.set)
    origin = {"job": str(Path(args.job).resolve()), "overrides": list(args.set or [])}
    return _run(args, plans, origin, None)


def cmd_resume(args: argparse.Namespace) -> int:
    from adaptune.search import resume

    state = _state_dir(args)
    try:
        record = resume.load(state, args.search)
    except LookupError as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_BAD_INPUT
    if record.finished:
        print(f"{args.search} finished already; nothing to resume")
        return 0
    if record.stage is not None:
        print(
            f"error: {args.search} is stage {record.stage + 1} of job "
            f"{record.job_key}: resume the job instead (adaptune resume {record.job_key})",
            file=sys.stderr,
        )
        return EXIT_BAD_INPUT
    if not Path(record.job).exists():
        print(f"error: the job file {record.job} is gone; it is needed", file=sys.stderr)
        return EXIT_BAD_INPUT
    args.tracking_uri = args.tracking_uri or record.tracking_uri or None
    origin = {"job": record.job, "overrides": record.overrides}
    return _run(args, _plans(record.job, record.overrides), origin, record)


def _run(
    args: argparse.Namespace,
    plans: list[Any],
    origin: dict[str, Any],
    record: Any,
) -> int:
    from adaptune.search.results import summary_dict
    from adaptune.search.run import run_search

    if len(plans) > 1 or (record is not None and record.kind == "job"):
        from adaptune.search.stages import run_stages

        summaries = run_stages(
            plans,
            _state_dir(args),
            origin=origin,
            resume=record,
            address=args.address,
            tracking_uri=args.tracking_uri,
            verbose=args.verbose,
        )
        if args.json:
            Path(args.json).write_text(
                json.dumps([summary_dict(s) for s in summaries], indent=2, default=str)
            )
        return 0
    summary = run_search(
        plans[0],
        _state_dir(args),
        address=args.address,
        tracking_uri=args.tracking_uri,
        verbose=args.verbose,
        origin=origin,
        resume=record,
    )
    print("\n" + "\n".join(summary.lines()), flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(summary_dict(summary), indent=2, default=str))
    return 0 if summary.completed else EXIT_FAILED


def cmd_promote(args: argparse.Namespace) -> int:
    from adaptune import tracking

    client = tracking.setup(tracking.resolve_uri(args.tracking_uri, _state_dir(args)))
    run = tracking.find_search_run(client, args.search)
    tags = run.data.tags
    Tag = tracking.Tag
    name = args.model_name or tags[Tag.MODEL_NAME]
    alias = args.alias or tags[Tag.ALIAS]
    metric, mode = tags[Tag.METRIC], tags[Tag.MODE]
    result = tracking.promote(client, run, name, alias, metric, mode, dry_run=args.dry_run)
    ver = f" version {result.version}" if result.version else ""
    state = "promoted" if result.promoted else "not promoted"
    if args.dry_run:
        state = "would be promoted" if result.promoted else "would not be promoted"
    print(
        f"{result.model_name}{ver}: {state} — "
        f"{result.reason} (best trial {result.trial_id}, value {result.value})"
    )
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from adaptune import tracking
    from adaptune.report import build_report

    state = _state_dir(args)
    client = tracking.setup(tracking.resolve_uri(args.tracking_uri, state))
    try:
        report = build_report(client, args.search, state)
    except LookupError as e:
        print(f"error: {e.args[0] if e.args else e}", file=sys.stderr)
        return EXIT_BAD_INPUT
    if args.open:  # just the path: xdg-open "$(adaptune report NAME --open)"
        print(report.html)
    else:
        print(
            f"report for {report.name}: {', '.join(report.files)} logged under report/ of "
            f"MLflow run {report.run_id}\nhtml: {report.html}"
        )
    return 0


def cmd_ui(args: argparse.Namespace) -> int:
    from adaptune import tracking

    state = _state_dir(args)
    uri = tracking.resolve_uri(args.tracking_uri, state)
    if args.server:  # a tracking server others log to: artifacts proxied through it
        cmd = [
            sys.executable,
            "-m",
            "mlflow",
            "server",
            "--backend-store-uri",
            uri,
            "--artifacts-destination",
            args.artifacts or (state / "mlartifacts").as_uri(),
        ]
    else:
        cmd = [sys.executable, "-m", "mlflow", "ui", "--backend-store-uri", uri]
        if uri.startswith("sqlite:"):
            cmd += ["--default-artifact-root", (state / "mlartifacts").as_uri()]
    cmd += ["--host", args.host, "--port", str(args.port)]
    print(f"MLflow UI on http://{args.host}:{args.port} for {uri}", flush=True)
    os.execv(sys.executable, cmd)
    return 0  # pragma: no cover (exec does not return)


def cmd_submit(args: argparse.Namespace) -> int:
    from adaptune import cluster

    sid = cluster.submit(
        args.job,
        args.address,
        tracking_uri=args.tracking_uri,
        storage_path=args.storage_path,
        overrides=args.set,
        submission_id=args.submission_id,
    )
    print(sid)
    print(f"follow: adaptune logs {sid} --follow --address {args.address}", file=sys.stderr)
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    from adaptune import cluster

    info = cluster.status(args.submission_id, args.address)
    print(json.dumps(info, indent=2, default=str))
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


def _jobs_parsers(sub: Any) -> None:
    address = {
        "default": os.environ.get("RAY_API_SERVER_ADDRESS", "http://127.0.0.1:8265"),
        "help": "Ray dashboard address (default: $RAY_API_SERVER_ADDRESS or http://127.0.0.1:8265)",
    }
    sm = sub.add_parser("submit", help="submit a search to a Ray cluster (Ray Jobs)")
    sm.add_argument("job")
    sm.add_argument("--address", **address)
    sm.add_argument("--tracking-uri", help="MLflow server the cluster logs to")
    sm.add_argument("--storage-path", help="shared Tune/Train storage (NFS path, s3://, gs://)")
    sm.add_argument("--set", action="append", metavar="KEY=VALUE")
    sm.add_argument("--submission-id")
    sm.set_defaults(fn=cmd_submit)
    for name, fn, text in (
        ("status", cmd_status, "a submitted search's state"),
        ("logs", cmd_logs, "a submitted search's output"),
        ("stop", cmd_stop, "stop a submitted search"),
    ):
        p = sub.add_parser(name, help=text)
        p.add_argument("submission_id")
        p.add_argument("--address", **address)
        if name == "logs":
            p.add_argument("--follow", action="store_true", help="stream until the job ends")
        p.set_defaults(fn=fn)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="adaptune",
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--state-dir", help="state folder (default: $ADAPTUNE_HOME or ./.adaptune)")
    sub = p.add_subparsers(dest="command", required=True)

    sub.add_parser("methods", help="list the training methods").set_defaults(fn=cmd_methods)

    v = sub.add_parser("validate", help="check job specs without starting Ray")
    v.add_argument("jobs", nargs="+")
    v.add_argument("--set", action="append", metavar="KEY=VALUE", help="override a spec key")
    v.set_defaults(fn=cmd_validate)

    s = sub.add_parser("search", help="run a search")
    s.add_argument("job")
    s.add_argument(
        "--set",
        action="append",
        metavar="KEY=VALUE",
        help="override a spec key, e.g. search.num_samples=4 or fixed.epochs=2",
    )
    s.add_argument("--address", help="Ray cluster address (default: $RAY_ADDRESS or a local one)")
    s.add_argument(
        "--tracking-uri",
        help="MLflow tracking URI (default: $MLFLOW_TRACKING_URI or SQLite in the state folder)",
    )
    s.add_argument("--json", help="also write the summary as JSON to this file")
    s.add_argument("-v", "--verbose", action="store_true", help="show Ray's worker logs")
    s.set_defaults(fn=cmd_search)

    rs = sub.add_parser("resume", help="continue a search (or multi-stage job) that was cut off")
    rs.add_argument("search", help="the search's name, e.g. quickstart-20261126-071500")
    rs.add_argument("--address", help="Ray cluster address (default: $RAY_ADDRESS or local)")
    rs.add_argument("--tracking-uri", help="MLflow tracking URI (default: the one it used)")
    rs.add_argument("--json", help="also write the summary as JSON to this file")
    rs.add_argument("-v", "--verbose", action="store_true", help="show Ray's worker logs")
    rs.set_defaults(fn=cmd_resume)

    pr = sub.add_parser("promote", help="re-run guarded promotion for a past search")
    pr.add_argument("search", help="search name (its MLflow run name) or run id")
    pr.add_argument("--model-name", help="registered model (default: the job's name)")
    pr.add_argument("--alias", help="alias to move (default: the job's, e.g. champion)")
    pr.add_argument("--dry-run", action="store_true", help="say what would happen, change nothing")
    pr.add_argument("--tracking-uri")
    pr.set_defaults(fn=cmd_promote)

    rp = sub.add_parser("report", help="build a search's report (plots, tables, one HTML page)")
    rp.add_argument("search", help="search name (its MLflow run name) or run id, or a job run")
    rp.add_argument("--open", action="store_true", help="print only the HTML page's path")
    rp.add_argument("--tracking-uri")
    rp.set_defaults(fn=cmd_report)

    u = sub.add_parser("ui", help="serve the MLflow UI for the store")
    u.add_argument("--host", default="127.0.0.1")
    u.add_argument("--port", type=int, default=5000)
    u.add_argument("--tracking-uri")
    u.add_argument(
        "--server",
        action="store_true",
        help="run an MLflow tracking server (clusters log to it), not just the UI",
    )
    u.add_argument("--artifacts", help="server artifact destination (default: the state folder)")
    u.set_defaults(fn=cmd_ui)
    _jobs_parsers(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.fn(args))
    except SpecError as e:
        print(e, file=sys.stderr)
        return EXIT_BAD_INPUT
    except RuntimeError as e:  # a stage that finished no trial, and the like
        print(f"error: {e}", file=sys.stderr)
        return EXIT_FAILED
    except LookupError as e:
        print(f"error: {e.args[0] if e.args else e}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
