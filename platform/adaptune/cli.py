"""adaptune — hyperparameter search on Ray for DAO, DAMA, MAD and DALLMi, tracked in MLflow.

    adaptune methods
    adaptune validate jobs/quickstart.yaml
    adaptune search jobs/quickstart.yaml --set search.num_samples=4 [-q] [--json -]
    adaptune list                                        # past searches and jobs
    adaptune show quickstart-20261124-101500-3f2a
    adaptune resume quickstart-20261124-101500-3f2a      # after a crash
    adaptune promote quickstart-20261124-101500-3f2a --dry-run
    adaptune report quickstart-20261124-101500-3f2a [--open]
    adaptune ui [NAME] [--server]
    adaptune submit jobs/quickstart.yaml --address http://127.0.0.1:8265
    adaptune status|logs|stop SUBMISSION_ID

Exit codes: 0 ok, 1 the search or a command failed, 2 bad input (nothing was started).
The grammar and help texts: commands/parser.py; list, show and ui: commands/.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import sys
from pathlib import Path
from typing import Any

from adaptune.commands.output import Output, next_steps, open_page, quiet_libraries
from adaptune.commands.parser import build_parser
from adaptune.job.spec import blame_override, load_job, parse_override
from adaptune.job.yamlfile import SpecError, SpecProblem

__all__ = ["build_parser", "main"]

EXIT_FAILED, EXIT_BAD_INPUT = 1, 2


def _state_dir(args: argparse.Namespace) -> Path:
    from adaptune.tracking import default_state_dir

    return Path(args.state_dir).resolve() if args.state_dir else default_state_dir()


def cmd_methods(args: argparse.Namespace) -> int:
    import dataclasses

    from adaptune.methods import METHODS

    with Output(args) as out:
        rows = [
            {
                "name": name,
                "description": m.description,
                "metric": m.metric,
                "mode": m.mode,
                "metrics": list(m.metrics),
                "config": [f.name for f in dataclasses.fields(m.config_cls)],
            }
            for name, m in sorted(METHODS.items())
        ]
        out.json(rows)
        if args.json != "-":
            for r in rows:
                print(
                    f"{r['name']:8s} {r['description']}\n         objective {r['metric']} "
                    f"({r['mode']}); metrics: {', '.join(r['metrics'])}\n"
                    f"         config: {', '.join(r['config'])}"
                )
    return 0


def _plans(
    path: str, overrides: list[str] | None = None, trust_remote_code: bool = False
) -> list[Any]:
    """The job's plans; a problem a --set override caused is blamed on the override."""
    from adaptune.plan import make_plans

    sets = dict(parse_override(s) for s in overrides or [])
    job = load_job(path, sets)
    try:
        return make_plans(job, trust_remote_code=trust_remote_code)
    except SpecError as e:
        raise SpecError([_blame(p, sets, job.method) for p in e.problems]) from None


def _blame(problem: SpecProblem, sets: dict[str, Any], method: str) -> SpecProblem:
    """blame_override, with the closest config field for a mistyped fixed.<field>."""
    import dataclasses
    import difflib

    blamed = blame_override(problem, sets)
    if blamed is problem or not problem.key.startswith("fixed."):
        return blamed
    from adaptune.methods import METHODS

    fields = [f.name for f in dataclasses.fields(METHODS[method].config_cls)]
    close = difflib.get_close_matches(problem.key.split(".", 1)[1], fields, n=1, cutoff=0.5)
    hint = (
        f" (did you mean 'fixed.{close[0]}'?)"
        if close and "did you mean" not in blamed.message
        else ""
    )
    return SpecProblem(blamed.file, blamed.line, blamed.key, blamed.message + hint)


def cmd_validate(args: argparse.Namespace) -> int:
    bad, results = 0, []
    with Output(args) as out:
        for path in args.jobs:
            try:
                plans = _plans(path, args.set, args.trust_remote_code)
            except SpecError as e:
                print(e, file=sys.stderr)
                results.append({"job": path, "ok": False, "problems": [str(p) for p in e.problems]})
                bad += 1
                continue
            results.append({"job": path, "ok": True, "plans": [_describe(path, p) for p in plans]})
        out.json(results)
    return EXIT_BAD_INPUT if bad else 0


def _describe(path: str, plan: Any) -> dict[str, Any]:
    s = plan.job.the_search
    print(
        f"ok: {path} [{plan.job.name}]: {plan.method.name}, {plan.num_samples} trials, "
        f"{s.sampler} + {s.scheduler.type}, {len(plan.space)} searched "
        f"({', '.join(plan.space)}), objective {plan.metric} ({plan.mode}), "
        f"max_t {plan.max_t} epochs"
    )
    if plan.multi_objective:
        front = ", ".join(f"{m} ({d})" for m, d in plan.objectives)
        print(f"    Pareto front over {front}; early stopping on {plan.objectives[0][0]} only")
    code = getattr(plan, "remote_code", None)
    if code:
        print(f"    runs model code (--trust-remote-code): {code}")
    return {
        "name": plan.job.name,
        "method": plan.method.name,
        "trials": plan.num_samples,
        "sampler": s.sampler,
        "scheduler": s.scheduler.type,
        "searched": list(plan.space),
        "metric": plan.metric,
        "mode": plan.mode,
        "max_t": plan.max_t,
        "remote_code": code,
    }


def cmd_search(args: argparse.Namespace) -> int:
    plans = _plans(args.job, args.set, args.trust_remote_code)
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
    plans = _plans(record.job, record.overrides, args.trust_remote_code)
    return _run(args, plans, origin, record)


def _run(args: argparse.Namespace, plans: list[Any], origin: dict[str, Any], record: Any) -> int:
    """Run the search(es) with the console set up (progress, -q, --events, --json -)."""
    from adaptune.search import console

    if args.events == "-":  # the events alone on stdout, as they are written
        console.configure(quiet=args.quiet, events="-", live=False)
    with Output(args, stdout_taken=args.events == "-") as out:
        if args.events != "-":
            console.configure(quiet=args.quiet, events=args.events)
        try:
            return _searches(args, plans, origin, record, out)
        finally:
            console.CONSOLE.close()


def _searches(
    args: argparse.Namespace, plans: list[Any], origin: dict[str, Any], record: Any, out: Output
) -> int:
    from adaptune.search.console import CONSOLE
    from adaptune.search.results import summary_dict
    from adaptune.search.run import run_search
    from adaptune.search.tuner import needs_dashboard

    common = {
        "address": args.address,
        "tracking_uri": args.tracking_uri,
        "verbose": args.verbose,
        "origin": origin,
        "dashboard": args.ray_dashboard or needs_dashboard(plans),
    }
    hush = contextlib.redirect_stdout(io.StringIO()) if args.quiet else contextlib.nullcontext()
    with hush:  # -q: the search's own lines too ("preparing data", "report: ...")
        if plans[0].job.arm and record is None:  # a comparison: one search per arm
            from adaptune.search.compare import run_arms

            summaries = run_arms(plans, _state_dir(args), **common)
        elif len(plans) > 1 or (record is not None and record.kind == "job"):
            from adaptune.search.stages import run_stages

            summaries = run_stages(plans, _state_dir(args), resume=record, **common)
        else:
            summaries = [run_search(plans[0], _state_dir(args), resume=record, **common)]
    done = [summary_dict(s) for s in summaries]
    CONSOLE.emit("search_finished", summaries=done)
    out.json(done[0] if len(done) == 1 else done)
    if len(summaries) == 1:
        summary = summaries[0]
        lines = summary.lines() if not args.quiet else summary.lines()[:2]
        if not args.quiet:
            lines += next_steps(summary, _state_dir(args), _experiment_of(summary))
        print("\n" + "\n".join(lines), flush=True)
        return 0 if summary.completed else EXIT_FAILED
    return 0


def _experiment_of(summary: Any) -> str | None:
    from adaptune import tracking

    try:
        with tracking.fail_fast():
            client = tracking.setup(summary.tracking_uri)
            return str(client.get_run(summary.parent_run_id).info.experiment_id)
    except Exception:  # MLflow unreachable: the summary says so already
        return None


def cmd_promote(args: argparse.Namespace) -> int:
    from adaptune import tracking
    from adaptune.tracking.store import quiet as quiet_mlflow

    client = tracking.setup(tracking.resolve_uri(args.tracking_uri, _state_dir(args)))
    try:
        run = tracking.find_search_run(client, args.search)
    except LookupError as e:  # like `report`: a name that is not there is bad input
        print(f"error: {e.args[0] if e.args else e}", file=sys.stderr)
        return EXIT_BAD_INPUT
    tags = run.data.tags
    Tag = tracking.Tag
    name = args.model_name or tags[Tag.MODEL_NAME]
    alias = args.alias or tags[Tag.ALIAS]
    metric, mode = tags[Tag.METRIC], tags[Tag.MODE]
    with Output(args) as out, quiet_mlflow():
        result = tracking.promote(client, run, name, alias, metric, mode, dry_run=args.dry_run)
        out.json({**vars(result), "alias": alias, "dry_run": args.dry_run})
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
    with Output(args) as out:
        client = tracking.setup(tracking.resolve_uri(args.tracking_uri, state))
        try:
            report = build_report(client, args.search, state)
        except LookupError as e:
            print(f"error: {e.args[0] if e.args else e}", file=sys.stderr)
            return EXIT_BAD_INPUT
        out.json({"name": report.name, "run_id": report.run_id, "html": str(report.html)})
        if args.open:  # stdout: the path alone, as `xdg-open "$(adaptune report X --open)"`
            if not open_page(report.html.as_uri()):
                print("(no browser can open here: open the page yourself)", file=sys.stderr)
            print(report.html)
        else:
            if not args.quiet:
                print(
                    f"report for {report.name}: {', '.join(report.files)} logged under "
                    f"report/ of MLflow run {report.run_id}"
                )
            print(f"html: {report.html}")
    return 0


def _dispatch(args: argparse.Namespace) -> int:
    if args.command in ("list", "show", "ui"):
        from adaptune.commands import inspect, ui

        fn = {"list": inspect.cmd_list, "show": inspect.cmd_show, "ui": ui.cmd_ui}[args.command]
        return int(fn(args, _state_dir(args)))
    if args.command in ("submit", "status", "logs", "stop"):
        from adaptune.commands import jobs

        return int(getattr(jobs, f"cmd_{args.command}")(args))
    if args.command == "cluster":
        from adaptune.commands import autoscale

        return autoscale.cmd_cluster(args)
    handlers = {
        "methods": cmd_methods,
        "validate": cmd_validate,
        "search": cmd_search,
        "resume": cmd_resume,
        "promote": cmd_promote,
        "report": cmd_report,
    }
    return int(handlers[args.command](args))


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
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
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
