"""A local Hugging Face model folder as the text backbone: LoRA's target modules are
checked at validate against the folder's own module names, and the model builds from
the folder (tokenizer and weights), here the shipped MiniLM copied to tmp_path."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from tests.conftest import write

from adaptune.job.backbone import lora_problem, weight_modules
from adaptune.job.spec import SpecError, load_job
from adaptune.methods.encoder import shipped_backbone
from adaptune.plan import make_plan


@pytest.fixture(scope="module")
def minilm(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("models") / "my-minilm"
    shutil.copytree(shipped_backbone(), folder)
    return folder


def _job(tmp_path: Path, method: str, fixed: str) -> Path:
    data = {
        "dao": "{source: synthetic-finsent, n_train: 50}",
        "dallmi": "{source: synthetic-multilabel, n_train: 50}",
    }[method]
    return write(
        tmp_path / "job.yaml",
        f"name: t\nmethod: {method}\ndata: {data}\nfixed: {fixed}\n"
        "search: {space: {lr: {type: float, low: 1.0e-5, high: 1.0e-3}}}\n",
    )


def test_module_names_come_from_the_safetensors_header(minilm: Path) -> None:
    names = weight_modules(minilm)
    assert names is not None and "encoder.layer.0.attention.self.query" in names
    assert lora_problem(minilm, ["query", "value", "attention.output.dense"]) is None


@pytest.mark.parametrize("method", ["dao", "dallmi"])
def test_wrong_lora_targets_are_refused_with_the_names_the_model_has(
    tmp_path: Path, minilm: Path, method: str
) -> None:
    job = _job(
        tmp_path, method, f"{{backbone: {minilm}, lora_rank: 4, lora_targets: [q_proj, value]}}"
    )
    with pytest.raises(SpecError) as e:
        make_plan(load_job(job))
    (problem,) = e.value.problems
    text = str(problem)
    assert "fixed.lora_targets" in text and "'q_proj' matches no module of my-minilm" in text
    assert "its module names:" in text and "query" in text and "dense" in text
    assert "\n" not in text


def test_default_targets_on_an_unfit_model_blame_the_backbone(tmp_path: Path, minilm: Path) -> None:
    other = tmp_path / "renamed"
    other.mkdir()
    (other / "config.json").write_text((minilm / "config.json").read_text())
    header = (
        b'{"layers.0.q_proj.weight": {"dtype": "F32", "shape": [2, 2], "data_offsets": [0, 16]}}'
    )
    (other / "model.safetensors").write_bytes(
        len(header).to_bytes(8, "little") + header + bytes(16)
    )
    with pytest.raises(SpecError, match=r"fixed.backbone: .*its module names: q_proj"):
        make_plan(load_job(_job(tmp_path, "dao", f"{{backbone: {other}}}")))
    # full fine-tuning has no targets to check
    make_plan(load_job(_job(tmp_path, "dao", f"{{backbone: {other}, lora_rank: 0}}")))


def test_dao_builds_from_the_local_folder(tmp_path: Path, minilm: Path) -> None:
    from adaptune.method import make_config
    from adaptune.methods import METHODS
    from adaptune.methods.dao.model import load_tokenizer

    plan = make_plan(load_job(_job(tmp_path, "dao", f"{{backbone: {minilm}, lora_rank: 2}}")))
    cfg = make_config(METHODS["dao"], plan.job.fixed)
    assert cfg.backbone == str(minilm)
    tokenizer = load_tokenizer(cfg)
    assert tokenizer("the euro rallied")["input_ids"]
    model = METHODS["dao"].build_model(cfg, {})
    assert any("lora_" in n for n, _ in model.named_parameters())
