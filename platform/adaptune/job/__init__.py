"""What the user writes: job specs, search spaces and the YAML they come in.

Imports no torch, Ray or MLflow, so ``adaptune validate`` answers in a moment.
"""

from adaptune.job.overrides import parse_override
from adaptune.job.spec import DataSpec, JobSpec, load_job
from adaptune.job.yamlfile import SpecError, SpecProblem, load_yaml

__all__ = [
    "DataSpec",
    "JobSpec",
    "SpecError",
    "SpecProblem",
    "load_job",
    "load_yaml",
    "parse_override",
]
