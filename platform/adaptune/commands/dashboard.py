"""`adaptune dashboard`: optuna-dashboard on the searches' Optuna studies, live.

    adaptune dashboard                         # every search of the state folder
    adaptune dashboard NAME --port 8081        # opened on that search's study

Every search keeps its Optuna study in the study file beside the MLflow store
(tracking/study.py), so the dashboard shows a running search as it goes: its trials'
parameters, each epoch's value, the history, parallel coordinates, contour, importance
and the Pareto front; trials a scheduler stopped are pruned, with their last value. The
server is optuna-dashboard's own WSGI app, served in this process on 127.0.0.1 unless
--host says otherwise.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from pathlib import Path
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from adaptune.commands.output import EXIT_BAD_INPUT, Output, open_page
from adaptune.commands.ui import loopback

__all__ = ["cmd_dashboard", "study_of"]


class _Quiet(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # the page polls every second
        pass


def study_of(state: Path, tracking_uri: str | None, search: str | None) -> tuple[str, int | None]:
    """The study store's URL, and `search`'s study id in it (None: no search named).
    LookupError says what is missing and what exists."""
    from adaptune import tracking
    from adaptune.driver import resume
    from adaptune.tracking.study import STUDY_FILE, open_storage, study_url

    url = study_url(tracking.resolve_uri(tracking_uri, state), state)
    if search:
        # (no record: a search started elsewhere, or a multi-stage job's key: by name below)
        with contextlib.suppress(LookupError):
            url = resume.load(state, search).study or url
    if not Path(url.removeprefix("sqlite:///")).exists():
        raise LookupError(
            f"no Optuna studies at {url.removeprefix('sqlite:///')}: a search started with "
            f"this state folder and store writes its study there ({STUDY_FILE})"
        )
    if not search:
        return url, None
    storage = open_storage(url)
    try:
        return url, storage.get_study_id_from_name(search)
    except KeyError:
        names = [s.study_name for s in storage.get_all_studies()][-8:]
        known = ", ".join(names) or "none"
        raise LookupError(f"no study for search '{search}' in {url} (known: {known})") from None


def cmd_dashboard(args: argparse.Namespace, state: Path) -> int:
    from optuna_dashboard import wsgi

    if not 1 <= args.port <= 65535:
        print(f"error: --port {args.port}: not a TCP port (1-65535)", file=sys.stderr)
        return EXIT_BAD_INPUT
    try:
        url, study_id = study_of(state, args.tracking_uri, args.search)
    except LookupError as e:
        print(f"error: {e.args[0]}", file=sys.stderr)
        return EXIT_BAD_INPUT
    try:
        server: WSGIServer = make_server(args.host, args.port, wsgi(url), handler_class=_Quiet)
    except OSError as e:
        what = f"{args.host}:{args.port}: {e.strerror}"
        print(f"error: {what}; try --port {args.port + 1}", file=sys.stderr)
        return EXIT_BAD_INPUT
    if not loopback(args.host):  # optuna-dashboard has no sign-in of its own
        print(
            f"warning: {args.host}:{args.port} serves the studies to other machines with no "
            "sign-in; keep the default 127.0.0.1 and reach it through an SSH tunnel",
            file=sys.stderr,
        )
    page = f"http://{args.host}:{server.server_port}/dashboard"
    if study_id is not None:
        page += f"/studies/{study_id}"
    with Output(args) as out, server:
        out.json({"url": page, "storage": url})
        opened = not args.no_open and open_page(page)
        print(f"optuna-dashboard for {url}:\n  {page}" + ("" if opened else "  (open it)"))
        print("Ctrl-C stops it.", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            server.serve_forever()
    return 0
