"""`adaptune ui`: MLflow's UI on the store, opened on the runs table in its training view.

    adaptune ui                      # prints (and, with a display, opens) the runs URL
    adaptune ui NAME --port 5001     # that search's trials
    adaptune ui --server             # a tracking server clusters log to
    adaptune ui --server --auth-file team.ini --host 0.0.0.0   # ... that asks who you are

The UI is one process with one worker and MLflow's job runner off (its GenAI jobs are of
no use here): by default `mlflow ui` starts four workers and a job runner, about 15
processes. The URL carries ``workflowType=machine_learning``: MLflow 3's UI otherwise
lands on its GenAI pages.

``--auth`` runs MLflow's basic-auth app (``--app-name basic-auth``): its users are kept in
``<state>/basic_auth.db`` and its admin is created, on the first start, from ``--auth-file``
(MLflow's credentials format, adaptune.credentials) or $MLFLOW_TRACKING_USERNAME/PASSWORD.
The password reaches the server in its environment, never its command line or log.
"""

from __future__ import annotations

import argparse
import base64
import importlib.util
import ipaddress
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any
from urllib.error import HTTPError
from urllib.parse import quote
from urllib.request import Request, urlopen

from adaptune.commands.output import EXIT_BAD_INPUT, EXIT_FAILED, Output, open_page
from adaptune.credentials import PASSWORD_ENV, USERNAME_ENV, CredentialsError, server_credentials
from adaptune.redact import scrub

__all__ = ["auth_env", "cmd_ui", "exposure_warning", "loopback", "server_command", "start_url"]

READY_TIMEOUT_S = 120.0
# MLflow's basic-auth settings but the admin's (from the environment) and the users' store.
AUTH_CONFIG = """\
[mlflow]
default_permission = READ
database_uri = {database}
admin_username = {user}
authorization_function = mlflow.server.auth:authenticate_request_basic_auth
"""


def server_command(args: argparse.Namespace, uri: str, state: Path) -> list[str]:
    """The `mlflow ui` (or `mlflow server`) command line; a store URI that holds a password
    is left to $MLFLOW_BACKEND_STORE_URI (cmd_ui sets it): no secret in any argv."""
    store = [] if scrub(uri) != uri else ["--backend-store-uri", uri]
    if args.server:  # a tracking server others log to: artifacts proxied through it
        cmd = ["server", *store]
        cmd += ["--artifacts-destination", args.artifacts or (state / "mlartifacts").as_uri()]
    else:
        cmd = ["ui", *store]
        if uri.startswith("sqlite:"):
            cmd += ["--default-artifact-root", (state / "mlartifacts").as_uri()]
    workers = args.workers or (None if args.server else 1)
    if workers:
        cmd += ["--workers", str(workers)]
    if _wants_auth(args):
        cmd += ["--app-name", "basic-auth"]
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


def _wants_auth(args: argparse.Namespace) -> bool:
    return bool(getattr(args, "auth", False) or getattr(args, "auth_file", None))


def auth_env(args: argparse.Namespace, state: Path) -> tuple[dict[str, str], str]:
    """The server's environment for MLflow's basic-auth app (a settings file in the state
    folder unless $MLFLOW_AUTH_CONFIG_PATH names one; the admin, its password; a CSRF key)
    and the admin's name. CredentialsError (one line) when they are missing or refused."""
    if importlib.util.find_spec("flask_wtf") is None:
        raise CredentialsError("--auth needs MLflow's auth extra: pip install 'mlflow[auth]'")
    given = Path(args.auth_file) if getattr(args, "auth_file", None) else None
    user, password, _ = server_credentials(given)
    from mlflow.exceptions import MlflowException
    from mlflow.utils.validation import _validate_password  # the rule the server applies

    try:
        _validate_password(password)
    except MlflowException as e:
        where = f"{given}: {PASSWORD_ENV.lower()}" if given else f"${PASSWORD_ENV}"
        raise CredentialsError(f"{where}: {e.message}") from None
    config = os.environ.get("MLFLOW_AUTH_CONFIG_PATH")
    if not config:
        config = str(state / "basic_auth.ini")
        database = f"sqlite:///{state / 'basic_auth.db'}"
        Path(config).write_text(AUTH_CONFIG.format(database=database, user=user))
    env = {
        "MLFLOW_AUTH_CONFIG_PATH": config,
        "MLFLOW_AUTH_ADMIN_USERNAME": user,
        "MLFLOW_AUTH_ADMIN_PASSWORD": password,
        "MLFLOW_FLASK_SERVER_SECRET_KEY": os.environ.get("MLFLOW_FLASK_SERVER_SECRET_KEY")
        or secrets.token_hex(32),
    }
    return env, user


def _signs_in(base: str, user: str, password: str) -> bool:
    """Whether the server takes the admin's credentials (a user store made earlier keeps
    the password it was made with)."""
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    request = Request(
        f"{base}/api/2.0/mlflow/experiments/search?max_results=1",
        headers={"Authorization": f"Basic {token}"},
    )
    try:
        with urlopen(request, timeout=60):
            return True
    except HTTPError as e:
        return e.code != 401
    except OSError:  # no answer in time: nothing known against it
        return True


def loopback(host: str) -> bool:
    """Whether `host` takes requests from this machine only."""
    try:
        return host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:  # a host name
        return False


def exposure_warning(args: argparse.Namespace) -> str | None:
    """One line when the server would take requests from other machines unasked."""
    if loopback(args.host) or _wants_auth(args):
        return None
    return (
        f"warning: {args.host}:{args.port} takes requests from other machines and asks no "
        "one who they are; add --auth (docs/operations.md#the-ui)"
    )


def _port_free(host: str, port: int) -> bool:
    """Nothing listens there. As the server binds (SO_REUSEADDR): the closed connections of
    a server just stopped (TIME_WAIT, a minute) do not count."""
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
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
    env = {**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
    admin = None
    if _wants_auth(args):
        state.mkdir(parents=True, exist_ok=True)
        try:
            auth, admin = auth_env(args, state)
        except CredentialsError as e:
            print(f"error: {e}", file=sys.stderr)
            return EXIT_BAD_INPUT
        env.update(auth)
    elif warning := exposure_warning(args):
        print(warning, file=sys.stderr)
    uri = tracking.resolve_uri(args.tracking_uri, state)
    if scrub(uri) != uri:  # off the command line (server_command)
        env["MLFLOW_BACKEND_STORE_URI"] = uri
    base = f"http://{args.host}:{args.port}"
    with Output(args) as out:
        try:
            url = start_url(tracking.setup(uri), base, args.search)
        except LookupError as e:
            print(f"error: {e.args[0] if e.args else e}", file=sys.stderr)
            return EXIT_BAD_INPUT
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
            if admin is not None and not _signs_in(base, admin, env["MLFLOW_AUTH_ADMIN_PASSWORD"]):
                print(
                    f"error: the server refuses {admin}'s password: the user store that "
                    f"{env['MLFLOW_AUTH_CONFIG_PATH']} names made {admin} with another one; "
                    "MLflow sets an admin's password only when it creates the user (change "
                    "it with MLflow's update-password API)",
                    file=sys.stderr,
                )
                return EXIT_FAILED
            shown = scrub(uri)
            out.json({"url": url, "tracking_uri": shown, "pid": proc.pid, "auth_user": admin})
            opened = not args.no_open and open_page(url)
            print(
                f"MLflow UI for {shown}:\n  {url}" + ("" if opened else "  (open it in a browser)")
            )
            if admin is not None:
                print(
                    f"Sign-in required (admin: {admin}); clients set ${USERNAME_ENV} "
                    f"and ${PASSWORD_ENV}."
                )
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
