"""`adaptune ui`: MLflow's UI on the store, opened on the runs table in its training view.

    adaptune ui                      # prints (and, with a display, opens) the runs URL
    adaptune ui NAME --port 5001     # that search's trials
    adaptune ui --server             # a tracking server clusters log to

The UI is one process with one worker and MLflow's job runner off (its GenAI jobs are of
no use here): by default `mlflow ui` starts four workers and a job runner, about 15
processes. The URL carries ``workflowType=machine_learning``: MLflow 3's UI otherwise
lands on its GenAI pages.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote

from adaptune.commands.output import EXIT_BAD_INPUT, EXIT_FAILED, Output, open_page

__all__ = ["cmd_ui", "server_command", "start_url"]

READY_TIMEOUT_S = 120.0


def server_command(args: argparse.Namespace, uri: str, state: Path) -> list[str]:
    """The `mlflow ui` (or `mlflow server`) command line."""
    if args.server:  # a tracking server others log to: artifacts proxied through it
        cmd = ["server", "--backend-store-uri", uri]
        cmd += ["--artifacts-destination", args.artifacts or (state / "mlartifacts").as_uri()]
    else:
        cmd = ["ui", "--backend-store-uri", uri]
        if uri.startswith("sqlite:"):
            cmd += ["--default-artifact-root", (state / "mlartifacts").as_uri()]
    workers = args.workers or (None if args.server else 1)
    if workers:
        cmd += ["--workers", str(workers)]
    return [sys.executable, "-m", "mlflow", *cmd, "--host", args.host, "--port", str(args.port)]


def start_url(client: Any, base: str, search: str | None) -> str:
    """The runs table to open: the named (else the latest) search's experiment, its trials
    best first; the experiments list when the store is empty."""
    from adaptune.report.build import find_run
    from adaptune.report.catalog import list_runs
    from adaptune.report.links import runs_url, search_url
    from adaptune.tracking.names import SHARED_VIEW_PREFIX, Kind, Tag

    if search:
        run = find_run(client, search)  # LookupError: an unknown name
    else:
        latest = list_runs(client, limit=1)
        if not latest:
            return f"{base}/#/experiments"
        run = client.get_run(latest[0]["run_id"])
    experiment = str(run.info.experiment_id)
    url = runs_url(base, experiment)
    tags = run.data.tags
    name = tags.get(Tag.SEARCH, run.info.run_name)
    if SHARED_VIEW_PREFIX + name in client.get_experiment(experiment).tags:
        return search_url(base, experiment, name)  # the view the search saved
    if tags.get(Tag.KIND) == Kind.SEARCH:  # its trials, flat, the best first
        flt = f"tags.`{Tag.SEARCH}` = '{name}' and tags.`{Tag.KIND}` = '{Kind.TRIAL}'"
        url += f"&searchFilter={quote(flt)}"
        if tags.get(Tag.METRIC):
            asc = "true" if tags.get(Tag.MODE) == "min" else "false"
            url += f"&orderByKey={quote(f'metrics.`{tags[Tag.METRIC]}`')}&orderByAsc={asc}"
    return url


def _port_free(host: str, port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def _wait_ready(proc: subprocess.Popen[bytes], host: str, port: int) -> bool:
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            with socket.create_connection((host, port), timeout=1):
                return True
        except OSError:
            time.sleep(0.3)
    return False


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def cmd_ui(args: argparse.Namespace, state: Path) -> int:
    from adaptune import tracking

    if not 1 <= args.port <= 65535:
        print(f"error: --port {args.port}: not a TCP port (1-65535)", file=sys.stderr)
        return EXIT_BAD_INPUT
    if not _port_free(args.host, args.port):
        print(
            f"error: {args.host}:{args.port} is in use (another `adaptune ui`?); "
            f"try --port {args.port + 1}",
            file=sys.stderr,
        )
        return EXIT_BAD_INPUT
    uri = tracking.resolve_uri(args.tracking_uri, state)
    base = f"http://{args.host}:{args.port}"
    with Output(args) as out:
        try:
            url = start_url(tracking.setup(uri), base, args.search)
        except LookupError as e:
            print(f"error: {e.args[0] if e.args else e}", file=sys.stderr)
            return EXIT_BAD_INPUT
        env = {**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
        state.mkdir(parents=True, exist_ok=True)
        log = state / "ui.log"  # the server's own lines, unless -v
        with open(log, "ab") as sink:
            out_to = None if args.verbose else sink
            err_to = None if args.verbose else subprocess.STDOUT
            cmd = server_command(args, uri, state)
            proc = subprocess.Popen(cmd, env=env, stdout=out_to, stderr=err_to)
        signal.signal(signal.SIGTERM, _interrupt)  # stopped by a supervisor: stop the UI too
        try:
            if not _wait_ready(proc, args.host, args.port):
                print(f"error: the MLflow server did not start; see {log}", file=sys.stderr)
                return EXIT_FAILED
            out.json({"url": url, "tracking_uri": uri, "pid": proc.pid})
            opened = not args.no_open and open_page(url)
            print(f"MLflow UI for {uri}:\n  {url}" + ("" if opened else "  (open it in a browser)"))
            where = "" if args.verbose else f"; its log: {log}"
            print(f"Ctrl-C stops it{where}.", flush=True)
            return int(proc.wait())
        except KeyboardInterrupt:
            return 0
        finally:
            if proc.poll() is None:  # SIGTERM: SIGINT may be ignored (a background job)
                proc.terminate()
                try:
                    proc.wait(15)
                except subprocess.TimeoutExpired:
                    proc.kill()
