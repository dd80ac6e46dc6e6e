"""The command line's grammar: every subcommand, its help with examples and exit codes.

    args = build_parser().parse_args(["search", "jobs/quickstart.yaml", "-q"])
    args.command    # "search"; cli.main dispatches on it

The common flags (--state-dir, --tracking-uri, -q, -v, --json) are accepted before the
subcommand and after it: each subcommand's copy defaults to "not given", so it never
overrides a value given before the subcommand.
"""

from __future__ import annotations

import argparse
import os
from typing import Any

__all__ = ["EXIT_CODES", "build_parser"]

EXIT_CODES = """exit codes:
  0    ok
  1    the search or the command failed (see the message; MLflow holds the details)
  2    bad input: nothing was started
  130  interrupted (Ctrl-C); a search stays resumable: adaptune resume NAME
  143  stopped by SIGTERM; resumable likewise"""

SUMMARY = "Hyperparameter search on Ray for DAO, DAMA, MAD and DALLMi, tracked in MLflow."

EXAMPLES: dict[str, tuple[str, str]] = {
    "methods": ("list the training methods", "adaptune methods\n  adaptune methods --json -"),
    "validate": (
        "check job specs without starting anything",
        "adaptune validate jobs/quickstart.yaml\n"
        "  adaptune validate jobs/*.yaml --set search.num_samples=4",
    ),
    "data": (
        "the job's data split by split: sizes, classes, domains, duplicates across splits",
        "adaptune data jobs/dao_paper.yaml\n"
        "  adaptune data jobs/dama_paper.yaml --set data.path=data/fdu-mtl --json -",
    ),
    "search": (
        "run a search",
        "adaptune search jobs/quickstart.yaml\n"
        "  adaptune search jobs/quickstart.yaml --set search.num_samples=4 --set fixed.epochs=2\n"
        "  adaptune search jobs/quickstart.yaml -q --json - > summary.json\n"
        "  adaptune search jobs/quickstart.yaml --events events.jsonl",
    ),
    "resume": (
        "continue a search (or multi-stage job) that was cut off",
        "adaptune resume quickstart-20261124-101500-3f2a",
    ),
    "list": (
        "past searches and jobs: status, best value, champion",
        "adaptune list\n  adaptune list --json -",
    ),
    "show": (
        "one search or job: settings, trials, best trial, champion, report, UI link",
        "adaptune show quickstart-20261124-101500-3f2a\n"
        "  adaptune show quickstart-20261124-101500-3f2a --csv trials.csv",
    ),
    "promote": (
        "re-run guarded promotion for a past search",
        "adaptune promote quickstart-20261124-101500-3f2a --dry-run",
    ),
    "report": (
        "build a search's report (plots, tables, one HTML page)",
        "adaptune report quickstart-20261124-101500-3f2a --open",
    ),
    "ui": (
        "serve the MLflow UI on the store and open its runs table",
        "adaptune ui\n  adaptune ui quickstart-20261124-101500-3f2a --port 5001\n"
        "  adaptune ui --server --port 5000      # a tracking server clusters log to\n"
        "  adaptune ui --server --auth-file team.ini --host 0.0.0.0   # one with sign-in",
    ),
    "rerun": (
        "train one trial's config again, as a new search linked to the old one",
        "adaptune rerun quickstart-20261124-101500-3f2a fc808086 --seeds 3",
    ),
    "dashboard": (
        "serve optuna-dashboard on the searches' Optuna studies (live while they run)",
        "adaptune dashboard\n  adaptune dashboard quickstart-20261124-101500-3f2a --port 8081",
    ),
    "submit": (
        "submit a search to a Ray cluster (Ray Jobs)",
        "adaptune submit jobs/quickstart.yaml --address http://127.0.0.1:8265",
    ),
    "status": ("a submitted search's state", "adaptune status raysubmit_XYZ"),
    "logs": ("a submitted search's output", "adaptune logs raysubmit_XYZ --follow"),
    "stop": ("stop a submitted search", "adaptune stop raysubmit_XYZ"),
    "results": (
        "render the docs' comparison tables from the results records (results/*.json)",
        "adaptune results render\n  adaptune results render --check   # exit 1: a table differs",
    ),
    "cluster": (
        "rehearse cluster.yaml's autoscaling here (local-autoscale), or render it as "
        "KubeRay manifests (k8s)",
        "adaptune cluster local-autoscale\n"
        "  adaptune cluster local-autoscale --idle-s 10 --write-config fake.yaml\n"
        "  adaptune cluster k8s --job jobs/dao_finsent.yaml --out k8s/   # KubeRay manifests",
    ),
}


def _common(suppress: bool) -> argparse.ArgumentParser:
    """The flags every subcommand takes; `suppress`: absent ones leave the namespace alone."""
    d: dict[str, Any] = {"default": argparse.SUPPRESS} if suppress else {}
    p = argparse.ArgumentParser(add_help=False)
    g = p.add_argument_group("common options (before or after the subcommand)")
    g.add_argument(
        "--state-dir",
        metavar="DIR",
        **d,
        help="state folder (default: $ADAPTUNE_HOME or ./.adaptune)",
    )
    g.add_argument(
        "--tracking-uri",
        metavar="URI",
        **d,
        help="MLflow tracking URI (default: $MLFLOW_TRACKING_URI or SQLite in the state folder)",
    )
    g.add_argument("-q", "--quiet", action="store_true", **d, help="print only results and errors")
    g.add_argument(
        "-v", "--verbose", action="store_true", **d, help="show Ray's and MLflow's own output"
    )
    g.add_argument(
        "--json", metavar="FILE", **d, help="also write the result as JSON to FILE ('-': stdout)"
    )
    return p


def _sub(sub: Any, name: str, common: argparse.ArgumentParser) -> argparse.ArgumentParser:
    text, examples = EXAMPLES[name]
    p: argparse.ArgumentParser = sub.add_parser(
        name,
        help=text,
        description=text[0].upper() + text[1:] + ".",
        epilog=f"examples:\n  {examples}\n\n{EXIT_CODES}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        parents=[common],
    )
    p.set_defaults(command=name)
    return p


def _overrides(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--set",
        action="append",
        metavar="KEY=VALUE",
        help="override a spec key, e.g. search.num_samples=4 or fixed.epochs=2 (repeatable)",
    )
    p.add_argument(
        "--trust-remote-code",
        action="store_true",
        help="allow `trust_remote_code: true` in the job: a model folder's own Python runs",
    )


def _run_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--address", help="Ray cluster address (default: $RAY_ADDRESS or a local one)")
    p.add_argument(
        "--events", metavar="FILE", help="write a JSON-lines event stream to FILE ('-': stdout)"
    )
    p.add_argument(
        "--ray-dashboard",
        action="store_true",
        help="start the local cluster with Ray's dashboard and print its address (on by "
        "itself when trials run in worker groups; off otherwise: ~2 s of start-up)",
    )
    p.add_argument(
        "--promote-partial",
        action="store_true",
        help="on Ctrl-C or SIGTERM, end the search on the trials that finished and promote "
        "from them (default: stop it resumable, exit 130 or 143, promote nothing)",
    )


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="adaptune",
        description=SUMMARY,
        epilog="`adaptune COMMAND --help` shows each command's examples.\n\n" + EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        parents=[_common(suppress=False)],
    )
    common = _common(suppress=True)
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    _sub(sub, "methods", common)
    v = _sub(sub, "validate", common)
    v.add_argument("jobs", nargs="+", metavar="JOB")
    _overrides(v)

    dt = _sub(sub, "data", common)
    dt.add_argument("job", metavar="JOB")
    _overrides(dt)

    s = _sub(sub, "search", common)
    s.add_argument("job", metavar="JOB")
    _overrides(s)
    _run_flags(s)
    s.add_argument(
        "--ledger", metavar="DIR", help="also write a comparison's results record to DIR"
    )

    rs = _sub(sub, "resume", common)
    rs.add_argument("search", help="the search's (or job's) name, as `adaptune list` shows it")
    rs.add_argument("--trust-remote-code", action="store_true", help="as for `search`")
    rs.add_argument(
        "--force",
        action="store_true",
        help="its job file changed since it started: run the changed job as a new search "
        "whose first trials are this one's best configs (default: refuse)",
    )
    _run_flags(rs)

    rr = _sub(sub, "rerun", common)
    rr.add_argument("search", help="the search whose trial to train again")
    rr.add_argument("trial", help="the trial's id (as `adaptune show` lists it) or MLflow run id")
    rr.add_argument(
        "--seeds", type=int, default=0, help="then re-train it with this many fresh seeds"
    )
    _overrides(rr)
    _run_flags(rr)

    _sub(sub, "list", common).add_argument(
        "--limit", type=int, default=50, help="the most recent N (default 50)"
    )
    sh = _sub(sub, "show", common)
    sh.add_argument("search", help="a search or job name, or a run id")
    sh.add_argument("--csv", metavar="FILE", help="one row per trial, best first, into FILE")

    pr = _sub(sub, "promote", common)
    pr.add_argument("search", help="search name (its MLflow run name) or run id")
    pr.add_argument("--model-name", help="registered model (default: the job's)")
    pr.add_argument("--alias", help="alias to move (default: the job's, e.g. champion)")
    pr.add_argument(
        "--rule",
        choices=("better", "significant", "no_domain_regresses"),
        help="what moves the alias (default: the job's promote.rule, recorded on the search)",
    )
    pr.add_argument("--dry-run", action="store_true", help="say what would happen, change nothing")

    rp = _sub(sub, "report", common)
    rp.add_argument("search", help="search name (its MLflow run name) or run id, or a job run")
    rp.add_argument("--open", action="store_true", help="also open the page in a browser")
    rp.add_argument(
        "--ui-url",
        help="the MLflow UI the page links to (default: the tracking server, else "
        "`adaptune ui`'s http://127.0.0.1:5000)",
    )

    u = _sub(sub, "ui", common)
    u.add_argument("search", nargs="?", help="open this search's trials (default: the latest)")
    u.add_argument(
        "--host", default="127.0.0.1", help="address to bind (default: 127.0.0.1; others: --auth)"
    )
    u.add_argument("--port", type=int, default=5000)
    u.add_argument("--no-open", action="store_true", help="print the URL, open no browser")
    u.add_argument(
        "--server",
        action="store_true",
        help="run an MLflow tracking server (clusters log to it), not just the UI",
    )
    u.add_argument("--artifacts", help="server artifact destination (default: the state folder)")
    u.add_argument("--workers", type=int, help="server worker processes (default: 1 for the UI)")
    u.add_argument(
        "--auth",
        action="store_true",
        help="MLflow's basic-auth app: clients sign in ($MLFLOW_TRACKING_USERNAME/PASSWORD); "
        "its admin is --auth-file's user, else those variables'",
    )
    u.add_argument(
        "--auth-file",
        metavar="FILE",
        help="the admin's credentials, MLflow's format ([mlflow] mlflow_tracking_username "
        "= ..., mlflow_tracking_password = ...); implies --auth",
    )
    d = _sub(sub, "dashboard", common)
    d.add_argument("search", nargs="?", help="open this search's study (default: the list)")
    d.add_argument("--host", default="127.0.0.1")
    d.add_argument("--port", type=int, default=8080)
    d.add_argument("--no-open", action="store_true", help="print the URL, open no browser")
    res = _sub(sub, "results", common)
    res.add_argument("action", choices=["render"])
    res.add_argument("files", nargs="*", help="Markdown files (default: README.md, docs/**/*.md)")
    res.add_argument("--ledger", default="results", help="the records' folder (default: results)")
    res.add_argument("--check", action="store_true", help="change nothing; exit 1 if one differs")
    _jobs(sub, common)
    _cluster(sub, common)
    return p


def _cluster(sub: Any, common: argparse.ArgumentParser) -> None:
    c = _sub(sub, "cluster", common)
    c.add_argument("action", choices=["local-autoscale", "k8s"])
    c.add_argument("--config", default="cluster.yaml", help="Ray cluster config (cluster.yaml)")
    c.add_argument("--idle-s", type=float, default=10.0, help="idle timeout of a worker, seconds")
    c.add_argument("--cpus-per-node", type=float, default=1.0, help="CPUs of each fake node")
    c.add_argument("--dir", help="its temp dir, config and logs (default: a new one in /tmp)")
    c.add_argument("--write-config", metavar="FILE", help="only write the fake provider's config")
    k = c.add_argument_group("k8s: KubeRay manifests (RayCluster, MLflow server, RayJob)")
    k.add_argument("--job", metavar="JOB", help="also a RayJob that runs `adaptune search JOB`")
    k.add_argument(
        "--image",
        help="the pods' image, built from the project's Dockerfile "
        "(default: adaptune:VERSION, the project's version)",
    )
    k.add_argument("--storage-path", help="the RayJob's shared Tune/Train storage (s3://, gs://)")
    k.add_argument(
        "--out", metavar="DIR", help="write one file per kind into DIR (default: stdout)"
    )


def _jobs(sub: Any, common: argparse.ArgumentParser) -> None:
    address: dict[str, Any] = {
        "default": os.environ.get("RAY_API_SERVER_ADDRESS", "http://127.0.0.1:8265"),
        "help": "Ray dashboard address (default: $RAY_API_SERVER_ADDRESS or http://127.0.0.1:8265)",
    }
    sm = _sub(sub, "submit", common)
    sm.add_argument("job", metavar="JOB")
    sm.add_argument("--address", **address)
    sm.add_argument("--storage-path", help="shared Tune/Train storage (NFS path, s3://, gs://)")
    sm.add_argument("--submission-id")
    sm.add_argument(
        "--exclude",
        action="append",
        default=[],
        metavar="PATTERN",
        help="leave files out of the uploaded project (gitignore syntax, repeatable); "
        ".git, .venv, .adaptune, .gpu and caches always are",
    )
    _overrides(sm)
    for name in ("status", "logs", "stop"):
        p = _sub(sub, name, common)
        p.add_argument("submission_id")
        p.add_argument("--address", **address)
        if name == "logs":
            p.add_argument("--follow", action="store_true", help="stream until the job ends")
