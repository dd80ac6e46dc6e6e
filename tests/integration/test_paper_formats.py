"""Searches from the text benchmarks' own on-disk layouts, end to end on one local Ray.

Each format's tiny fixture under tests/fixtures/ is laid out the way the benchmark ships
(FiQA's task-1 JSON, Financial PhraseBank's ``sentence@label`` lines, FDU-MTL's
``<domain>.task.*`` files, multi-label JSON Lines with a domain column), plus a
``datasets.save_to_disk`` folder written here from the FDU-MTL fixture, read through
source ``hf`` with column mapping and no hub. Each is a 2-trial search of one epoch
through at.search (library mode: the Ray the first one starts serves the rest).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import ray

import adaptune as at
from adaptune.methods.dama.data import load_fdu_mtl

pytestmark = pytest.mark.integration

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
SEARCH = {"num_samples": 2, "scheduler": {"type": "fifo"}, "seed": 0}
RESOURCES = {"workers_per_trial": 1, "cpus_per_worker": 0.5}
DAO_FIXED = {"epochs": 1, "max_len": 16, "batch_size": 4, "warmup_steps": 1, "lora_rank": 4}
DAMA_FIXED = {"stage": 1, "epochs": 1, "batch_size": 4, "max_len": 16}
DAMA_FIXED |= {"embedding_dim": 16, "num_blocks": 2}
LR = {"lr": {"type": "float", "low": 1.0e-4, "high": 1.0e-3, "log": True}}
GAMMA = {"gamma": {"type": "float", "low": 0.0, "high": 0.1}}


def _job(name: str, method: str, data: dict[str, Any], fixed: dict[str, Any], space: Any) -> Any:
    return at.Job.from_dict(
        {
            "name": name,
            "method": method,
            "data": data,
            "fixed": fixed,
            "search": {"space": space, **SEARCH},
            "resources": RESOURCES,
            "promote": {"enabled": False},
        }
    )


@pytest.fixture(scope="module")
def state(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The state folder, and the one local Ray every search here runs on, started as a
    search starts it (driver/tuner.py). Ray gives its raylet 30 s to register, which a
    loaded shared 2-core machine has missed: one more try, then the error."""
    from adaptune.driver.tuner import init_ray

    for attempt in (1, 2):
        try:
            init_ray(None, verbose=False, dashboard=False)
            break
        except Exception as e:
            ray.shutdown()
            if attempt == 2 or "timed out during startup" not in str(e):
                raise
    yield tmp_path_factory.mktemp("formats") / "state"
    ray.shutdown()


def _searched(job: Any, state: Path) -> Any:
    result = at.search(job, state_dir=state)
    assert result.completed == 2, result
    assert result.best is not None and result.best.test
    return result


def test_dao_from_fiqa_json(state: Path) -> None:
    path = FIXTURES / "fiqa" / "task1_headline_ABSA_train.json"
    result = _searched(
        _job("fiqa", "dao", {"source": "fiqa", "path": str(path)}, DAO_FIXED, LR), state
    )
    assert "test/mse" in result.best.test and "test/acc" in result.best.test


def test_dao_from_phrasebank_lines(state: Path) -> None:
    path = FIXTURES / "phrasebank" / "Sentences_AllAgree.txt"
    data = {"source": "phrasebank", "path": str(path), "test_fraction": 0.25}
    result = _searched(_job("phrasebank", "dao", data, DAO_FIXED, LR), state)
    assert "test/mse" in result.best.test


def test_dama_from_fdu_mtl_files(state: Path) -> None:
    data = {
        "source": "fdu-mtl",
        "path": str(FIXTURES / "fdu-mtl"),
        "options": {"dev_per_domain": 3},
    }
    result = _searched(_job("fdu", "dama", data, DAMA_FIXED, GAMMA), state)
    assert "test/acc" in result.best.test


def test_dallmi_from_jsonl(state: Path) -> None:
    data = {
        "source": "file",
        "path": str(FIXTURES / "multilabel" / "docs.jsonl"),
        "val_fraction": 0.25,
        "options": {"source_domain": "pubmed", "target_domain": "forum", "revealed": 0.5},
    }
    fixed = {"epochs": 1, "source_epochs": 1, "max_len": 16, "batch_size": 4}
    fixed |= {"pos_batch_size": 2, "lora_rank": 4, "warmup_steps": 1}
    result = _searched(_job("multilabel", "dallmi", data, fixed, LR), state)
    assert "test/map" in result.best.test


def test_dama_from_a_saved_datasets_folder(state: Path, tmp_path: Path) -> None:
    import datasets

    def split(name: str) -> datasets.Dataset:
        texts, labels, domains = load_fdu_mtl(FIXTURES / "fdu-mtl", name, dev_size=3)
        return datasets.Dataset.from_dict(
            {"review": texts, "sentiment": labels, "category": domains}
        )

    folder = tmp_path / "fdu-saved"
    datasets.DatasetDict({"train": split("train"), "test": split("test")}).save_to_disk(folder)
    data = {
        "source": "hf",
        "path": str(folder),
        "test_split": "test",
        "columns": {"text": "review", "label": "sentiment", "domain": "category"},
    }
    result = _searched(_job("saved", "dama", data, DAMA_FIXED, GAMMA), state)
    assert "test/acc" in result.best.test
