"""The CLI's output: JSON results, quiet libraries, next steps, opening a page.

    with Output(args) as out:        # --json - : stdout carries the JSON alone
        ...print(...)                # human lines (to stderr when stdout is JSON's)
        out.json(result)

Libraries' chatter is silenced unless -v: Ray's token-auth notice, MLflow's database
creation lines, its type-hint warning per logged model and the registry's prints.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from types import TracebackType
from typing import IO, Any

__all__ = [
    "EXIT_BAD_INPUT",
    "EXIT_FAILED",
    "Output",
    "next_steps",
    "open_page",
    "quiet_libraries",
    "state_dir",
]

EXIT_FAILED, EXIT_BAD_INPUT = 1, 2  # parser.EXIT_CODES says what each means


class Output:
    """Where a command's human lines and its JSON result go (--json FILE | -)."""

    def __init__(self, args: Any, *, stdout_taken: bool = False):
        """`stdout_taken`: stdout carries something else (--events -), human lines go to
        stderr as they do for --json -."""
        self.target: str | None = getattr(args, "json", None)
        self.taken = stdout_taken or self.target == "-"
        self._stdout: IO[str] | None = None

    def __enter__(self) -> Output:
        if self.taken:  # every other print goes to stderr meanwhile
            self._stdout, sys.stdout = sys.stdout, sys.stderr
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._stdout is not None:
            sys.stdout, self._stdout = self._stdout, None

    def json(self, data: Any) -> None:
        if not self.target:
            return
        text = json.dumps(data, indent=2, default=str)
        if self.target == "-":
            out = self._stdout or sys.stdout
            out.write(text + "\n")
            out.flush()
        else:
            Path(self.target).write_text(text + "\n")


def state_dir(args: Any) -> Path:
    """--state-dir, else $ADAPTUNE_HOME, else ./.adaptune (absolute)."""
    from adaptune.tracking import default_state_dir

    given = getattr(args, "state_dir", None)
    return Path(given).resolve() if given else default_state_dir()


def quiet_libraries() -> None:
    """Silence what Ray and MLflow print on their own (their warnings and errors stay)."""
    import logging

    from adaptune.driver.upstream import AUTH_LOGGER

    logging.getLogger(AUTH_LOGGER).setLevel(logging.ERROR)  # token notice
    logging.getLogger("mlflow.store.db.utils").setLevel(logging.WARNING)  # "Creating tables"
    logging.getLogger("alembic").setLevel(logging.WARNING)
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    # transformers' "Loading weights" bar (a backbone loaded in the driver while preparing
    # data, e.g. DALLMi's shared source checkpoint): read when transformers is imported
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")


def next_steps(summary: Any, state_dir: Path, experiment_id: str | None) -> list[str]:
    """What to do after a search: the UI, the champion, the report. Each line runs as
    printed from any folder: it names the state folder and the store where the defaults
    would not find them (tracking.cli_flags, tracking.mlflow_env), and no password."""
    from adaptune.redact import scrub
    from adaptune.report.links import DEFAULT_UI, search_url
    from adaptune.tracking import cli_flags, mlflow_env

    uri = summary.tracking_uri
    at = f"adaptune {cli_flags(state_dir, uri)}"
    lines = ["", "next:"]
    served = uri.startswith(("http://", "https://"))
    if experiment_id is not None:
        start = "" if served else f"{at}ui   # then "
        lines.append(
            f"  {start}{search_url(uri if served else DEFAULT_UI, experiment_id, summary.search)}"
        )
    p = summary.promotion
    if p is not None and p.promoted:
        model = f"models:/{p.model_name}@{getattr(p, 'alias', None) or 'champion'}"
        lines.append(
            f"  {mlflow_env(uri)}mlflow models serve -m {model} --env-manager local -p 5001"
        )
        lines.append(
            f"  import mlflow; mlflow.set_tracking_uri({uri!r}); "
            f"model = mlflow.pyfunc.load_model({model!r})   # Python"
        )
    report = state_dir / "reports" / f"{summary.search}.html"
    if report.exists():
        lines.append(f"  {at}report {summary.search} --open   # {report}")
    lines.append(f"  {at}show {summary.search}")
    lines.append(f"  {at}dashboard {summary.search}   # optuna-dashboard: its Optuna study")
    return [scrub(line) for line in lines]


def open_page(url: str) -> bool:
    """Open `url` in the user's browser if a graphical one can open here (no display on
    Linux: none can, and a text browser would take the terminal over); True if it did."""
    display = os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
    if sys.platform not in ("darwin", "win32") and not display:
        return False
    import webbrowser

    try:
        return bool(webbrowser.open(url))
    except webbrowser.Error:
        return False
