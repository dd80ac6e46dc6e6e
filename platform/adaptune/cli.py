"""adaptune — hyperparameter search on Ray for domain-adaptation methods, tracked in MLflow.

    adaptune methods
    adaptune validate jobs/quickstart.yaml
    adaptune search jobs/quickstart.yaml --set search.num_samples=4 [-q] [--json -]
    adaptune list                                        # past searches and jobs
    adaptune show quickstart-20261124-101500-3f2a
    adaptune resume quickstart-20261124-101500-3f2a      # after a crash
    adaptune rerun quickstart-20261124-101500-3f2a fc808086 --seeds 3
    adaptune promote quickstart-20261124-101500-3f2a --dry-run
    adaptune report quickstart-20261124-101500-3f2a [--open]
    adaptune ui [NAME] [--server]
    adaptune dashboard [NAME]                            # optuna-dashboard, live
    adaptune results render [--check]                    # docs' tables from results/
    adaptune submit jobs/quickstart.yaml --address http://127.0.0.1:8265
    adaptune status|logs|stop SUBMISSION_ID

Exit codes: 0 ok, 1 the search or a command failed, 2 bad input (nothing was started).
This module parses and maps errors to exit codes; the grammar is commands/parser.py and
every command is a function in commands/ over the public API (adaptune/__init__.py).
"""

from __future__ import annotations

import argparse
import errno
import importlib
import sys

from adaptune.commands.output import EXIT_BAD_INPUT, EXIT_FAILED, quiet_libraries, state_dir
from adaptune.commands.parser import build_parser
from adaptune.job.yamlfile import SpecError

__all__ = ["build_parser", "main"]

# command -> "commands.<module>:<function>"; those marked * also take the state folder
HANDLERS = {
    "methods": "methods:cmd_methods",
    "validate": "validate:cmd_validate",
    "data": "data:cmd_data",
    "search": "run:cmd_search",
    "resume": "run:cmd_resume",
    "rerun": "run:cmd_rerun",
    "promote": "promote:cmd_promote",
    "report": "promote:cmd_report",
    "list": "inspect:cmd_list*",
    "show": "inspect:cmd_show*",
    "ui": "ui:cmd_ui*",
    "dashboard": "dashboard:cmd_dashboard*",
    "submit": "jobs:cmd_submit",
    "status": "jobs:cmd_status",
    "logs": "jobs:cmd_logs",
    "stop": "jobs:cmd_stop",
    "cluster": "autoscale:cmd_cluster",
    "results": "results:cmd_results",
}


def _dispatch(args: argparse.Namespace) -> int:
    module, _, name = HANDLERS[args.command].partition(":")
    handler = getattr(importlib.import_module(f".commands.{module}", __package__), name.rstrip("*"))
    if name.endswith("*"):
        return int(handler(args, state_dir(args)))
    return int(handler(args))


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    exiting = argv is None  # the process's own command line: it exits after this
    if not args.verbose:
        quiet_libraries()
    try:
        return _dispatch(args)
    except SpecError as e:
        print(e, file=sys.stderr)
        return EXIT_BAD_INPUT
    except RuntimeError as e:  # a stage that finished no trial, and the like
        print(f"error: {e}", file=sys.stderr)
        return EXIT_FAILED
    except LookupError as e:
        print(f"error: {e.args[0] if e.args else e}", file=sys.stderr)
        return EXIT_FAILED
    except ConnectionError as e:  # a Ray cluster or tracking server that does not answer
        print(f"error: {e}", file=sys.stderr)
        return EXIT_FAILED
    except OSError as e:
        if e.errno != errno.ENOSPC:
            raise
        print(  # the disk watch (driver/disk.py) stops a search before this, resumable
            f"error: the disk is full ({e.filename or e}): free some space; a search that "
            "was running goes on with `adaptune resume NAME` (adaptune list shows it)",
            file=sys.stderr,
        )
        return EXIT_FAILED
    except KeyboardInterrupt as e:  # a search's SearchInterrupted says how to go on
        print(f"\n{e}" if str(e) else "interrupted", file=sys.stderr)
        return int(getattr(e, "exit_code", 130))
    except BrokenPipeError:  # `adaptune list | head`: the reader left, nothing to say
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    finally:
        if exiting:
            _before_exit()


def _before_exit() -> None:
    """Ray's exit hook waits 0.5 s for log lines before it stops the cluster this process
    started; the summary is printed and nothing of Ray's is shown, so it is stopped now.
    The interpreter's last garbage collection walks every object torch, Ray and MLflow
    made (2-8 s on a loaded 2-core machine, after the summary is printed): frozen, they
    are left to the operating system. Files and the other atexit hooks run as usual."""
    import gc

    ray = sys.modules.get("ray")
    if ray is not None and ray.is_initialized():
        ray.shutdown()
    gc.freeze()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
