"""Every name adaptune writes to MLflow and reads back: tags, status values, and the
search-run params and metrics that reports and promotion read.

    client.set_tag(run_id, Tag.STATUS, Status.STOPPED)
    Status.parse(run.data.tags.get(Tag.STATUS))       # also reads older free-text tags

One module owns them, so a writer and its readers cannot drift apart. Nothing here
imports MLflow: the driver, the report and the tests all read the same constants.
"""

from __future__ import annotations

from enum import StrEnum

__all__ = [
    "Cost",
    "Kind",
    "Param",
    "SearchMetric",
    "Status",
    "Tag",
    "TrialMetric",
    "stage_best_tag",
]

PREFIX = "adaptune."


class Tag:
    """Run and model-version tag keys."""

    KIND = PREFIX + "kind"  # search | job | trial | rerun (Kind)
    SEARCH = PREFIX + "search"  # the search's name, on every run of the search
    JOB = PREFIX + "job"
    METHOD = PREFIX + "method"
    STAGES = PREFIX + "stages"  # on a job run: how many stages
    ARMS = PREFIX + "arms"  # on a comparison's job run: its arms, comma-separated
    DATA_FINGERPRINT = PREFIX + "data_fingerprint"
    MODEL_NAME = PREFIX + "model_name"  # registered model the search promotes to
    ALIAS = PREFIX + "alias"
    PROMOTE_RULE = PREFIX + "promote_rule"  # better | significant: what moves the alias
    METRIC = PREFIX + "metric"  # the objective (on search runs and model versions)
    MODE = PREFIX + "mode"
    SEARCHED = PREFIX + "searched"  # comma-separated names of the searched params
    NOTE = "mlflow.note.content"  # MLflow's run description (Markdown), shown in its UI
    # trial runs
    TRIAL_ID = PREFIX + "trial_id"
    STATUS = PREFIX + "status"  # one Status value
    STATUS_TEXT = PREFIX + "status_text"  # the status in words ("stopped by ASHA at epoch 2")
    STOPPED_AT = PREFIX + "stopped_at"  # epoch a scheduler stopped the trial at
    ERROR = PREFIX + "error"
    NODE_ID = PREFIX + "node_id"  # the node rank 0 ran on first
    NODE_IDS = PREFIX + "node_ids"  # every node it ran on, in order, once a restart moved it
    MODEL_URI = PREFIX + "model_uri"
    # on a multi-objective search's trial runs: "true" when on the Pareto front (a
    # completed, feasible trial no other completed, feasible trial dominates), else "false"
    PARETO_FRONT = PREFIX + "pareto_front"
    # search runs
    BEST_TRIAL = PREFIX + "best_trial"  # decided by search.results, read by promotion
    PROMOTION = PREFIX + "promotion"  # JSON: what promotion decided for it, and why
    # on a search run its budget or stop rule ended, and on the trial runs that stopped:
    # the rule ("budget.wall", "stop_when.no_improvement_trials"; job/budget.py)
    ENDED_BY = PREFIX + "ended_by"
    # model versions
    RUN_ID = PREFIX + "run_id"
    FINALISTS = PREFIX + "finalists"  # search run: JSON, each finalist's mean val and p(best)
    RERUN_OF = PREFIX + "rerun_of"  # on a search `adaptune rerun` started: "SEARCH TRIAL"
    VALUE = PREFIX + "value"
    CANDIDATE = PREFIX + "candidate"
    VAL_PREFIX = PREFIX + "val."  # + metric: the val scores the version was selected on
    TEST_PREFIX = PREFIX + "test."  # + metric: the version's test metrics (reported only)
    VALUE_KIND = PREFIX + "value_kind"  # what VALUE is: "val mean of k seeds" or "val"
    TEST_SCORES = PREFIX + "test_scores"  # the objective's test score per re-run seed
    VAL_SCORES = PREFIX + "val_scores"  # ... its val score per re-run seed (promotion reads)
    # ... and per domain, {domain: [score per seed]} (JSON; rule no_domain_regresses reads)
    VAL_DOMAIN_SCORES = PREFIX + "val_domain_scores"


def stage_best_tag(stage: int) -> str:
    """On a job run: stage `stage` (1-based)'s best trial and value."""
    return f"{PREFIX}stage{stage}_best"


def method_tag(method: str, key: str) -> str:
    """A tag a method's job report returns, under its own namespace (adaptune.dama.<key>)."""
    return f"{PREFIX}{method}.{key}"


class Kind(StrEnum):
    SEARCH = "search"
    JOB = "job"
    TRIAL = "trial"
    RERUN = "rerun"  # a seeded re-run of the best config, not a search trial
    FINALIST = "finalist"  # a finalist config's extra seed (search.finalists)


class Status(StrEnum):
    """A trial run's outcome, decided once (search.results) and written as one word."""

    RUNNING = "running"
    COMPLETED = "completed"
    STOPPED = "stopped"  # by the scheduler (ASHA): a normal end, not a failure
    ERRORED = "errored"
    INTERRUPTED = "interrupted"  # its driver died; a resume restarts it
    LOST = "lost"  # started after Tune's last save; a resume goes on without it

    @classmethod
    def parse(cls, tag: str | None) -> Status:
        """The status tag as a Status; older searches wrote "stopped by ASHA at epoch k"."""
        if not tag:
            return cls.RUNNING
        if tag.startswith("stopped"):
            return cls.STOPPED
        try:
            return cls(tag)
        except ValueError:
            return cls.RUNNING

    def text(self, epoch: int | None = None, scheduler: str = "ASHA") -> str:
        """The status in words, for the status-text tag and the progress lines."""
        if self is Status.STOPPED and epoch is not None:
            return f"stopped by {scheduler} at epoch {epoch}"
        return self.value


class Param:
    """Search-run params that reports read back."""

    METHOD = "method"
    METRIC = "metric"
    MODE = "mode"
    MAX_T = "max_t"
    NUM_SAMPLES = "num_samples"
    USE_GPU = "use_gpu_resolved"
    MAX_CONCURRENT = "max_concurrent_resolved"
    SAMPLER = "search.sampler"
    SCHEDULER = "scheduler.type"
    GRACE_PERIOD = "scheduler.grace_period"
    REDUCTION_FACTOR = "scheduler.reduction_factor"
    # a multi-objective search: "metric:mode,metric:mode" (the first is the schedulers')
    OBJECTIVES = "objectives"
    WORKERS = "resources.workers_per_trial"
    CPUS_PER_WORKER = "resources.cpus_per_worker"
    GPUS_PER_WORKER = "resources.gpus_per_worker"


class SearchMetric:
    """Search-run metrics."""

    TRIALS = "trials"
    COMPLETED = "completed"
    STOPPED = "stopped_early"
    ERRORED = "errored"
    WALL_S = "wall_s"

    @staticmethod
    def best(metric: str) -> str:
        return f"best/{metric}"

    @staticmethod
    def hours(resource: str) -> str:
        return f"cost/{resource.lower()}_hours"  # Cost.CPU_HOURS, Cost.GPU_HOURS

    @staticmethod
    def hours_saved(resource: str) -> str:
        return f"cost/{resource.lower()}_hours_saved_by_early_stopping"

    @staticmethod
    def legacy_hours_saved(resource: str) -> str:
        """The name searches recorded before the cost ledger used (read by reports)."""
        return f"{resource.lower()}_hours_saved"


class Cost:
    """The cost ledger (driver/cost.py): on trial runs three tags, on search runs the
    totals as metrics. Prices: job/pricing.py."""

    NODE_TYPE = "cost/node_type"  # trial-run tag: cluster.yaml's node type, or "local"
    HOURS = "cost/hours"  # trial-run tag: the trial's wall hours
    USD = "cost/usd"  # trial-run tag; search-run metric
    CPU_HOURS = "cost/cpu_hours"  # search run (= SearchMetric.hours("CPU"))
    GPU_HOURS = "cost/gpu_hours"
    USD_SAVED = "cost/usd_saved_by_early_stopping"  # search run


class TrialMetric:
    """Trial-run metrics the platform adds to what the method reports (Ray's own
    bookkeeping, pid, timestamp, time_*, training_iteration, ..., is not forwarded)."""

    WALL_S = "wall_s"  # the trial's wall time so far, worker start included (Tune's time_total_s)

    @staticmethod
    def per_step(name: str) -> str:
        """A method's per-step series as logged, named so its x-axis reads as optimiser
        steps beside the per-epoch metrics (step = epoch): "dao/w_c" -> "dao_step/w_c"
        (one point per logged optimiser step, MLflow step = that step)."""
        head, _, tail = name.partition("/")
        return f"{head}_step/{tail}" if tail else f"step/{head}"


# An experiment tag MLflow's UI reads as a saved view of its runs table (its "share view":
# the URL's viewStateShareKey names it): each search saves one showing its trials, best
# first, with the objective, the searched values and the outcome as columns.
SHARED_VIEW_PREFIX = "mlflow.sharedViewState."

# On trial runs: a rounded copy of each searched param, "search/lr" = "0.000566" (the
# full value stays under its own name), so the UI's params show which were searched.
SEARCHED_PARAM_PREFIX = "search/"

# Artifacts the report reads back from the search run.
SPACE_ARTIFACT = "spec/space.json"
