"""One search: plan -> place -> search run -> fit -> results -> finish.

    summary = run_search(plan, state_dir=Path(".adaptune"))

Ray: a local cluster on 127.0.0.1 unless ``address`` (or RAY_ADDRESS) names one.
MLflow: one search run, one nested run per trial (driver/recorder.py).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import os
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from adaptune import tracking
from adaptune.driver import budget, console, cost, final, interrupt, nodes, upstream, warmstart
from adaptune.driver import resume as resume_lib
from adaptune.driver.background import in_background, warm_report_imports
from adaptune.driver.console import CONSOLE
from adaptune.driver.disk import guard as disk_guard
from adaptune.driver.finalists import select as select_finalists
from adaptune.driver.finish import finish
from adaptune.driver.ledger import Ledger
from adaptune.driver.recorder import SearchRecorder
from adaptune.driver.results import SearchSummary, decide
from adaptune.driver.tuner import (
    Placement,
    init_ray,
    make_tuner,
    needs_dashboard,
    place,
    storage_location,
)
from adaptune.methods import registered_here
from adaptune.plan import Plan
from adaptune.tracking.names import Kind, Param, Tag
from adaptune.tracking.outbox import Outbox
from adaptune.tracking.reach import check_reachable
from adaptune.tracking.study import study_url
from adaptune.train.trial import TrialSetup, run_trial

__all__ = ["SearchSummary", "run_search"]


@dataclass
class SearchRun:
    """The search's name and MLflow parent run, new or reopened by a resume."""

    search: str
    run_id: str
    experiment_id: str
    storage: str
    known: dict[str, str] = field(default_factory=dict)  # trial id -> run, on a resume


def run_search(
    plan: Plan,
    state_dir: Path,
    *,
    address: str | None = None,
    tracking_uri: str | None = None,
    verbose: bool = False,
    parent_run_id: str | None = None,
    promote: bool = True,
    origin: dict[str, Any] | None = None,
    resume: resume_lib.Record | None = None,
    dashboard: bool | None = None,
    promote_partial: bool = False,
) -> SearchSummary:
    """Run one search; nested under `parent_run_id` (a multi-stage job's run) if given.

    `origin` (the job file, overrides, and for a stage its job and index) is recorded so
    `adaptune resume` can rebuild the plan; `resume` (such a record) continues that
    search's Tune experiment and MLflow runs instead of starting a new one. A local
    cluster gets Ray's dashboard if `dashboard`, by default when its trials need it.

    SIGINT or SIGTERM while trials run stops the search resumable (driver/interrupt.py):
    SearchInterrupted, nothing decided or promoted, unless `promote_partial`: then the
    search ends on the trials it finished, as if its budget were spent."""
    started = time.monotonic()
    with contextlib.ExitStack() as held:  # the search's lock (resume.hold) till it ends
        if resume is not None:
            held.enter_context(resume_lib.hold(state_dir, resume.search))
        with CONSOLE.phase("imports"):
            _quiet(verbose)
        uri = tracking.resolve_uri(tracking_uri or plan.job.tracking.uri, state_dir)
        study = study_url(uri, state_dir)  # the Optuna study's store (optuna-dashboard's)
        check_reachable(uri)  # an unreachable server fails here, before Ray starts
        # Disk guard (driver/disk.py): a search that cannot fit is refused before Ray starts.
        disk_guard(plan, state_dir)
        # The data is built and tokenised (torch, the tokenizer) and MLflow's store is opened
        # (a new one creates its tables) while Ray starts: the driver mostly waits on Ray's
        # processes meanwhile.
        data_ready = in_background(prepare_data, plan, state_dir)
        client_ready = in_background(tracking.setup, uri)
        with CONSOLE.phase("ray_start"):
            if dashboard is None:
                dashboard = needs_dashboard([plan])
            url = init_ray(address, verbose, dashboard)
            if url:
                CONSOLE.say(f"Ray dashboard: {url}")
            placement = place(plan)
        with CONSOLE.phase("mlflow_store"):  # what is left of each once Ray is up
            client = client_ready()
        with CONSOLE.phase("data"):
            cache_dir, info = data_ready()
        if resume is not None and not resume_lib.restorable(
            resume
        ):  # died before Tune saved anything
            _abandon(client, state_dir, resume)
            resume = None
        with CONSOLE.phase("search_run"):
            warm = None if resume else warmstart.gather(plan, client, info["fingerprint"])
            if resume is not None:
                opened = _reopen(client, resume)
            else:
                opened = _open(plan, client, state_dir, placement, info, parent_run_id)
                if rerun_of := (origin or {}).get("rerun_of"):  # adaptune rerun's trial
                    client.set_tag(opened.run_id, Tag.RERUN_OF, rerun_of)
                rec = _record(opened, uri, origin or {}, plan, study)
                resume_lib.save(state_dir, rec)
                held.enter_context(resume_lib.hold(state_dir, opened.search))
        # From here the search is resumable: a signal stops it (before its fit: at the first
        # step), or once its trials ended lets it finish (driver/interrupt.py).
        stop = held.enter_context(interrupt.stops(interrupt.Stop(), verbose=verbose))
        setup = TrialSetup(
            method=plan.method.name,
            fixed=dict(plan.job.fixed),
            data=plan.job.data.model_dump(),
            cache_dir=str(cache_dir),
            search=opened.search,
            storage_path=opened.storage,
            in_actor=placement.in_actor,
            use_gpu=placement.use_gpu,
            fake_gpu=placement.use_gpu and nodes.fake_gpu(),  # test-only (driver/nodes.py)
            workers=plan.job.resources.workers_per_trial,
            cpus_per_worker=plan.job.resources.cpus_per_worker,
            gpus_per_worker=plan.job.resources.gpus_per_worker,
            retries=plan.job.resources.trial_retries,
            worker_resources={
                k: v / plan.job.resources.workers_per_trial
                for k, v in placement.per_trial.items()
                if k not in ("CPU", "GPU")
            },
            compile_cache=str(compile_cache_dir(state_dir, opened.search)),
            registered=registered_here().get(plan.method.name),
        )
        pricer = cost.Pricer(plan.job.pricing, placement.per_trial, plan.max_t)
        box, ledger = Outbox(say=console.say), Ledger()
        recorder = SearchRecorder(
            plan,
            client,
            opened.experiment_id,
            opened.run_id,
            opened.search,
            opened.known,
            pricer=pricer,
            box=box,
            ledger=ledger,
            stop=stop,
        )
        in_background(warm_report_imports, lambda: bool(ledger.trials()))  # once a trial runs
        watch = budget.watch_for(plan, started, pricer, ledger, recorder.show.progress)
        trainable = functools.partial(run_trial, setup=setup)
        callbacks = [recorder, *([watch] if watch else []), interrupt.Forward(stop)]
        callbacks += nodes.watch(plan, recorder.show.progress, stop)  # waits for nodes
        with CONSOLE.phase("tuner"):
            tuner = make_tuner(
                plan,
                placement,
                trainable,
                callbacks,
                opened.search,
                opened.storage,
                restore=bool(resume),
                warm=warm,
                study=study,
                stop=watch,  # a budget or stop rule ends the search (driver/budget.py)
            )
        _announce(plan, placement, opened.search)
        with CONSOLE.phase("fit"):
            grid = tuner.fit()
        interrupt.trials_ended(stop, opened.search, state_dir, origin, finish=promote_partial)
        trials = upstream.experiment_trials(grid)  # those finished before a resume too
        if watch is not None and watch.rule:  # its stopped trials' runs say by which rule
            trials = budget.settle(recorder, watch, trials)
        if stop.why:  # its unfinished trials' runs say so; the search run too, unless it ends
            partial = promote_partial and stop.signum is not None  # never on a full disk
            ended = recorder.interrupted(trials, stop.why, search_too=not partial)
            if not partial:
                total, name = plan.num_samples, opened.search
                raise interrupt.stopped(stop, ended, total, name, state_dir, origin)
        ledger.add(trials)
        decision = decide(ledger, plan)
        with CONSOLE.phase("finalists"):
            where = (client, opened.experiment_id, opened.run_id)
            decision = select_finalists(plan, placement, setup, decision, ledger, where)
        spend = cost.totals(ledger, pricer)
        with CONSOLE.phase("reruns"):
            reruns = final.rerun_best(
                plan, placement, setup, decision, client, opened.experiment_id, opened.run_id
            )
        with CONSOLE.phase("finish"):
            summary = finish(
                plan,
                client,
                recorder,
                box,
                ledger,
                decision,
                spend,
                reruns,
                search=opened.search,
                parent_run_id=opened.run_id,
                tracking_uri=uri,
                wall_s=time.monotonic() - started,
                state_dir=state_dir,
                promote=promote,
                ended_by=watch.rule if watch else "",
            )
        resume_lib.update(state_dir, opened.search, finished=True)
        return summary


def _quiet(verbose: bool) -> None:
    if verbose:
        return
    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")  # our progress lines replace Tune's
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    # Tune warns when a callback takes over 0.5 s ("may be a performance bottleneck"): on a
    # loaded 2-core machine an MLflow write does, and the lines break the progress output.
    upstream.slow_callback_threshold(max(upstream.slow_callback_threshold(), 30.0))


def prepare_data(plan: Plan, state_dir: Path) -> tuple[Path, dict[str, Any]]:
    """The method's cache folder and the data's info (built and cached here once, so trials
    only read the cache). The plan's data paths are absolute already (preflight.py)."""
    from adaptune.method import make_config

    job = plan.job
    cache_dir = state_dir / "cache" / job.method
    print(f"preparing data ({job.data.source}, {job.data.n_train} examples) ...", flush=True)
    cfg = make_config(plan.method, dict(job.fixed))
    info = plan.method.build_data(cfg, job.data, str(cache_dir)).info
    return cache_dir, info


def compile_cache_dir(state_dir: Path, search: str) -> Path:
    """The search's compile cache on each node (a `compile: true` model's kernels):
    every trial of the search reads what its first trial of the shape compiled."""
    return state_dir.resolve() / "compile" / search


def new_name(base: str) -> str:
    """A search or job name, unique even for two launches in the same second."""
    return f"{base}-{dt.datetime.now():%Y%m%d-%H%M%S}-{uuid.uuid4().hex[:4]}"


def _open(
    plan: Plan,
    client: Any,
    state_dir: Path,
    placement: Placement,
    info: dict[str, Any],
    parent_run_id: str | None,
) -> SearchRun:
    """A new search: its name, and its run (nested under a job's run if given) with the
    settings, the job file and the space logged."""
    from optuna.distributions import distribution_to_json

    job = plan.job
    experiment_id = tracking.ensure_experiment(
        client, job.tracking.experiment or job.name, state_dir
    )
    search = new_name(job.name)
    nesting = {"mlflow.parentRunId": parent_run_id} if parent_run_id else {}
    tags = {
        **nesting,
        Tag.KIND: Kind.SEARCH,
        Tag.SEARCH: search,
        Tag.METHOD: job.method,
        Tag.JOB: job.name,
        Tag.DATA_FINGERPRINT: info["fingerprint"],
        Tag.MODEL_NAME: job.promote.model_name or job.name,
        Tag.ALIAS: job.promote.alias,
        Tag.PROMOTE_RULE: job.promote.rule,
        Tag.METRIC: plan.metric,
        Tag.MODE: plan.mode,
        Tag.SEARCHED: ",".join(plan.space),
    }
    run_id = client.create_run(experiment_id, run_name=search, tags=tags).info.run_id
    tracking.log_params(client, run_id, _settings(plan, placement))
    for path in (job.source_file, plan.space_file):
        if path:
            client.log_artifact(run_id, str(Path(path).resolve()), artifact_path="spec")
    space_json = {k: distribution_to_json(d) for k, d in plan.space.items()}
    client.log_dict(run_id, space_json, tracking.names.SPACE_ARTIFACT)  # read by reports
    storage = storage_location(job.storage_path, state_dir)
    return SearchRun(search, run_id, experiment_id, storage)


def _record(
    opened: SearchRun, uri: str, origin: dict[str, Any], plan: Plan, study: str
) -> resume_lib.Record:
    return resume_lib.Record(
        search=opened.search,
        job=str(origin.get("job", "")),
        overrides=list(origin.get("overrides", [])),
        tracking_uri=uri,
        parent_run_id=opened.run_id,
        experiment_id=opened.experiment_id,
        storage=opened.storage,
        job_key=origin.get("job_key"),
        stage=origin.get("stage"),
        arm=str(origin.get("arm", "")),
        values=resume_lib.fingerprint([plan]),
        study=study,
    )


def _abandon(client: Any, state_dir: Path, rec: resume_lib.Record) -> None:
    """A search that died before Tune saved its state: no trial result was kept, so it
    starts again as a new search; its old run is closed as killed, its record finished."""
    print(f"{rec.search}: no Tune state was saved before it stopped; starting it again")
    for run_id in resume_lib.trial_run_ids(client, rec).values():
        client.set_terminated(run_id, "KILLED")
    client.set_terminated(rec.parent_run_id, "KILLED")
    resume_lib.update(state_dir, rec.search, finished=True)


def _reopen(client: Any, rec: resume_lib.Record) -> SearchRun:
    """A search being resumed: its parent run reopened, its trial runs settled (see
    resume.settle_runs), and the runs its trials continue; `resume.restorable(rec)` holds."""
    from ray.tune import ExperimentAnalysis

    path = f"{rec.storage.rstrip('/')}/{rec.search}"
    saved = {t.trial_id for t in ExperimentAnalysis(path).trials}
    known = resume_lib.trial_run_ids(client, rec)
    lost = resume_lib.settle_runs(client, known, saved)
    client.update_run(rec.parent_run_id, status="RUNNING")
    print(
        f"resuming {rec.search}: {len(saved)} trials saved by Tune"
        + (f", {len(lost)} started after its last save (marked lost)" if lost else ""),
        flush=True,
    )
    return SearchRun(rec.search, rec.parent_run_id, rec.experiment_id, rec.storage, known)


def _settings(plan: Plan, placement: Placement) -> dict[str, Any]:
    """The search run's params: the search, scheduler and resources as resolved."""
    job = plan.job
    flat = {f"search.{k}": v for k, v in job.the_search.model_dump(exclude={"scheduler"}).items()}
    flat.update({f"scheduler.{k}": v for k, v in job.the_search.scheduler.model_dump().items()})
    flat.update({f"resources.{k}": v for k, v in job.resources.model_dump().items()})
    flat.update(
        {
            Param.METHOD: job.method,
            Param.METRIC: plan.metric,
            Param.MODE: plan.mode,
            Param.NUM_SAMPLES: plan.num_samples,
            Param.MAX_T: plan.max_t,
            Param.MAX_CONCURRENT: placement.max_concurrent,
            **({Param.OBJECTIVES: _objectives(plan)} if plan.multi_objective else {}),
            Param.USE_GPU: placement.use_gpu,
            "data.source": job.data.source,
            "data.n_train": job.data.n_train,
            **{f"fixed.{k}": v for k, v in job.fixed.items()},
        }
    )
    return flat


def _objectives(plan: Plan) -> str:
    return ",".join(f"{metric}:{mode}" for metric, mode in plan.objectives)


def _announce(plan: Plan, placement: Placement, search: str) -> None:
    s = plan.job.the_search
    print(
        f"search {search}: {plan.num_samples} trials of {plan.method.name}, "
        f"{placement.max_concurrent} at a time on {'GPU' if placement.use_gpu else 'CPU'}, "
        f"sampler {s.sampler}, scheduler {s.scheduler.type}; objective {plan.metric} "
        f"({plan.mode})",
        flush=True,
    )
    if plan.multi_objective:
        print(
            f"objectives {_objectives(plan)}: a Pareto front; {s.scheduler.type} stops trials "
            f"on {plan.objectives[0][0]} only, the winner is the best {plan.metric} on the front",
            flush=True,
        )
