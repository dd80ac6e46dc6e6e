"""DALLMi's network on the shipped MiniLM-L6: embedding-level MixUp, LoRA, save and load."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import torch

from adaptune.methods.dallmi.config import DALLMiConfig
from adaptune.methods.dallmi.model import build_model, load_tokenizer
from adaptune.methods.dallmi.predict import load_predictor, save_model

LABELS = ["genetics", "oncology", "imaging"]


@pytest.fixture(scope="module")
def batch() -> dict[str, torch.Tensor]:
    enc = load_tokenizer(DALLMiConfig())(
        ["the gene mutation study", "a brain scan with contrast on the ward today"],
        padding=True,
        return_tensors="pt",
    )
    return {"ids": enc["input_ids"], "mask": enc["attention_mask"]}


def mixed(model: torch.nn.Module, b: dict[str, torch.Tensor], mu: float) -> torch.Tensor:
    ids, mask = b["ids"], b["mask"]
    return model.forward_mixed(ids[:1], mask[:1], ids[1:], mask[1:], torch.tensor([mu]))


def test_mixup_endpoints_are_the_two_documents(batch: dict[str, torch.Tensor]) -> None:
    model = build_model(DALLMiConfig(), {"labels": LABELS}).eval()
    both = torch.maximum(batch["mask"][:1], batch["mask"][1:])  # mask = elementwise max
    with torch.no_grad():
        assert torch.allclose(mixed(model, batch, 1.0), model(batch["ids"][:1], both), atol=1e-5)
        assert torch.allclose(mixed(model, batch, 0.0), model(batch["ids"][1:], both), atol=1e-5)
        plain = model(batch["ids"], batch["mask"])
    assert not torch.allclose(mixed(model, batch, 0.5), plain[:1])
    assert model._mix is None  # the hook is off again after a mixed forward


def test_mixup_sends_gradient_to_both_documents(batch: dict[str, torch.Tensor]) -> None:
    model = build_model(DALLMiConfig(), {"labels": LABELS})
    mixed(model, batch, 0.3)[0, 0].backward()
    grad = model.encoder.embeddings.word_embeddings.weight.grad
    only_p = set(batch["ids"][0].tolist()) - set(batch["ids"][1].tolist())
    only_u = set(batch["ids"][1].tolist()) - set(batch["ids"][0].tolist())
    assert grad[sorted(only_p)].abs().sum() > 0 and grad[sorted(only_u)].abs().sum() > 0


def test_lora_trains_adapters_and_the_head_only() -> None:
    model = build_model(DALLMiConfig(lora_rank=4), {"labels": LABELS})
    trainable = [n for n, p in model.named_parameters() if p.requires_grad]
    assert trainable and all("lora_" in n or n.startswith("head.") for n in trainable)


def test_saved_model_predicts_label_probabilities(tmp_path: Path) -> None:
    cfg = DALLMiConfig(lora_rank=4)
    model = build_model(cfg, {"labels": LABELS}).eval()
    model.last_per_label_ap = [0.5, 0.6, 0.7]
    save_model(model, cfg, {"labels": LABELS}, str(tmp_path))
    predict = load_predictor(str(tmp_path))
    out = predict(pd.DataFrame({"text": ["a tumor biopsy", "gene scan"]}))
    assert list(out.columns) == ["labels", "p_genetics", "p_oncology", "p_imaging"]
    with torch.no_grad():
        enc = load_tokenizer(cfg)(["a tumor biopsy"], return_tensors="pt")
        expected = torch.sigmoid(model(enc["input_ids"], enc["attention_mask"]))[0]
    assert out.iloc[0, 1:].tolist() == pytest.approx(expected.tolist(), abs=1e-4)
