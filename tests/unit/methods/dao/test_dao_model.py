"""DAO's network: LoRA trainable-parameter counts, heads, save -> raw-text predictor."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from adaptune.job.spec import DataSpec
from adaptune.methods import get_method
from adaptune.methods.dao.config import DAOConfig
from adaptune.methods.dao.model import build_model, count_trainable

# MiniLM-L6: 6 layers, hidden 384, FFN 1536. LoRA on query/key/value/attention-output
# (384x384 each) and the two FFN denses (384x1536, 1536x384) adds r * (in + out) each:
# per layer 4 * 768 r + 2 * 1920 r = 6912 r.
LORA_PER_RANK = 6 * 6912
HEADS = (384 * 128 + 128) + (128 + 1) + (384 * 128 + 128) + (128 * 5 + 5)
DAO_MODULE = (2 * 16 + 16) + (16 * 2 + 2) + 2  # fc1, fc2, a and b


@pytest.mark.parametrize("rank", [8, 16])
def test_lora_trainable_parameter_count(rank: int) -> None:
    model = build_model(DAOConfig(lora_rank=rank), {})
    assert count_trainable(model) == LORA_PER_RANK * rank + HEADS + DAO_MODULE


def test_rank_zero_is_full_fine_tuning() -> None:
    model = build_model(DAOConfig(lora_rank=0, weighting="constant"), {})
    total = sum(p.numel() for p in model.parameters())
    assert count_trainable(model) == total > 22_000_000


def test_constant_weighting_has_no_dao_module() -> None:
    assert build_model(DAOConfig(weighting="constant"), {}).weighting is None


def test_one_step_then_saved_model_predicts_raw_text(tmp_path: Path) -> None:
    method = get_method("dao")
    cfg = DAOConfig(max_len=24, batch_size=8, epochs=1, warmup_steps=0)
    train, _val, _test, info = method.build_data(
        cfg, DataSpec(source="synthetic-finsent", n_train=40), str(tmp_path / "cache")
    )
    assert info["n_train"] == 36 and info["n_val"] == 4
    model = method.build_model(cfg, info)
    opt = method.build_optimizers(model, cfg, total_steps=1)
    logs = method.train_step(model, train[:8], opt, cfg)
    assert {"loss", "l_r", "l_c", "dao/w_c", "dao/lambda_r", "dao/alpha"} <= set(logs)
    method.save_model(model, cfg, info, str(tmp_path / "saved"))
    predict = method.load_predictor(str(tmp_path / "saved"))
    out = predict(["The euro rallied sharply.", "Weak US payrolls weighed on the dollar."])
    assert list(out.columns) == ["score", "class", "label"] and len(out) == 2
    model.eval()
    with torch.no_grad():  # the reloaded model (LoRA merged) scores like the trained one
        enc = load_tok(cfg)(["The euro rallied sharply."], return_tensors="pt")
        _, score, _ = model(enc["input_ids"], enc["attention_mask"])
    assert out["score"][0] == pytest.approx(score.clamp(-1, 1).item(), abs=1e-4)


def load_tok(cfg: DAOConfig):  # type: ignore[no-untyped-def]
    from adaptune.methods.dao.model import load_tokenizer

    return load_tokenizer(cfg)


def test_synthetic_finsent_is_deterministic_and_imbalanced() -> None:
    from adaptune.methods.dao.data import generate_finsent

    a, b = generate_finsent(500, seed=3), generate_finsent(500, seed=3)
    assert a == b and a != generate_finsent(500, seed=4)
    from adaptune.methods.dao.loss import score_to_class

    counts = torch.bincount(score_to_class(torch.tensor(a[1])), minlength=5)
    assert counts.min() > 0 and counts.max() > 2 * counts.min()
