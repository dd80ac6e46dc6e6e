"""Each jobs/<method>_paper.yaml validates when its data paths point at the fixture laid
out like the paper's benchmark (tests/fixtures/), overridden with --set as a user would."""

from __future__ import annotations

from pathlib import Path

import pytest

from adaptune.cli import main
from adaptune.job.spec import JobSpec, SpecError
from adaptune.plan import make_plans

ROOT = Path(__file__).resolve().parents[3]
FIXTURES = ROOT / "tests" / "fixtures"
CASES = {
    "dao_paper.yaml": {"data.path": FIXTURES / "fiqa" / "task1_headline_ABSA_train.json"},
    "dao_paper.yaml+phrasebank": {
        "data.source": "phrasebank",
        "data.path": FIXTURES / "phrasebank" / "Sentences_AllAgree.txt",
    },
    "dama_paper.yaml": {"data.path": FIXTURES / "fdu-mtl", "data.options.dev_per_domain": 3},
    "dallmi_paper.yaml": {
        "data.path": FIXTURES / "multilabel" / "docs.jsonl",
        "data.options.source_domain": "pubmed",
        "data.options.target_domain": "forum",
        "fixed.batch_size": 4,  # the fixture's 16 target documents: not one batch of 64
    },
}


def _overrides(case: str) -> dict[str, object]:
    return {k: str(v) if isinstance(v, Path) else v for k, v in CASES[case].items()}


@pytest.mark.parametrize("case", sorted(CASES))
def test_paper_job_validates_against_its_fixture(case: str) -> None:
    job = JobSpec.from_yaml(ROOT / "jobs" / case.split("+")[0], _overrides(case))
    (plan,) = make_plans(job)
    assert plan.job.data.path and Path(plan.job.data.path).exists()


def test_paper_jobs_are_the_ones_tested() -> None:
    shipped = {p.name for p in (ROOT / "jobs").glob("*_paper.yaml")}
    text = {"dao_paper.yaml", "dama_paper.yaml", "dallmi_paper.yaml"}
    assert text <= shipped and text <= {c.split("+")[0] for c in CASES}


def test_adaptune_data_reads_the_paper_job_on_its_fixture() -> None:
    sets = [f"--set={k}={v}" for k, v in _overrides("dama_paper.yaml").items()]
    assert main(["data", str(ROOT / "jobs" / "dama_paper.yaml"), *sets]) == 0


def test_a_phrasebank_test_file_that_is_the_training_file_is_refused() -> None:
    path = str(CASES["dao_paper.yaml+phrasebank"]["data.path"])
    sets = {**_overrides("dao_paper.yaml+phrasebank"), "data.test_path": path}
    with pytest.raises(SpecError, match=r"Sentences_AllAgree\.txt is the same file as data\.path"):
        make_plans(JobSpec.from_yaml(ROOT / "jobs" / "dao_paper.yaml", sets))
