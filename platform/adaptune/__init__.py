"""adaptune: Ray Tune + Optuna + ASHA searches over domain-adaptation methods, every trial
a Ray Train run, every run recorded in MLflow.

    import adaptune as at
    job = at.Job.from_yaml("jobs/quickstart.yaml", overrides={"search.num_samples": 4})
    result = at.search(job)
    result.trials_df()

Every name in ``__all__`` is documented in docs/api.md. They are imported on first use,
so ``import adaptune`` (and each Ray worker that imports the package) stays light.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from adaptune.api import SearchFailed, Submission, load, resume, search, submit
    from adaptune.contract import MethodContractError, check_method
    from adaptune.driver.interrupt import SearchInterrupted
    from adaptune.job.spec import JobSpec as Job
    from adaptune.job.yamlfile import SpecError
    from adaptune.method import Arm, JobReport, Method, Optimizers, Splits
    from adaptune.methods import register_method
    from adaptune.rerun import rerun
    from adaptune.result import Best, Champion, SearchResult

__version__ = "0.1.0"

# public name -> "module:attribute"
_WHERE = {
    "Job": ".job.spec:JobSpec",
    "search": ".api:search",
    "resume": ".api:resume",
    "rerun": ".rerun:rerun",
    "load": ".api:load",
    "submit": ".api:submit",
    "Submission": ".api:Submission",
    "SearchResult": ".result:SearchResult",
    "Best": ".result:Best",
    "Champion": ".result:Champion",
    "SpecError": ".job.yamlfile:SpecError",
    "SearchFailed": ".api:SearchFailed",
    "SearchInterrupted": ".driver.interrupt:SearchInterrupted",
    "Method": ".method:Method",
    "Optimizers": ".method:Optimizers",
    "Splits": ".method:Splits",
    "Arm": ".method:Arm",
    "JobReport": ".method:JobReport",
    "register_method": ".methods:register_method",
    "check_method": ".contract:check_method",
    "MethodContractError": ".contract:MethodContractError",
}

__all__ = [
    "Arm",
    "Best",
    "Champion",
    "Job",
    "JobReport",
    "Method",
    "MethodContractError",
    "Optimizers",
    "SearchFailed",
    "SearchInterrupted",
    "SearchResult",
    "SpecError",
    "Splits",
    "Submission",
    "__version__",
    "check_method",
    "load",
    "register_method",
    "rerun",
    "resume",
    "search",
    "submit",
]


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module 'adaptune' has no attribute {name!r}")
    module, _, attr = _WHERE[name].partition(":")
    value = getattr(importlib.import_module(module, __name__), attr)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
