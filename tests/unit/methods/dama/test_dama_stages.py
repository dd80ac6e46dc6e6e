"""DAMA end to end without Ray: stage 1 trains the base, stage 2 loads it frozen and
learns only lambda; the saved model predicts from raw text with or without domains."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import torch
from torch.utils.data import DataLoader

from adaptune.job.spec import DataSpec
from adaptune.methods.dama import METHOD, DAMAConfig
from adaptune.methods.dama.model import unwrap

DATA = DataSpec(source="synthetic-multidomain", n_train=192, val_fraction=0.25, seed=3)
SMALL = {"embedding_dim": 16, "num_blocks": 2, "slstm_at": (1,), "max_len": 24, "batch_size": 16}


def _train(cfg: DAMAConfig, out: Path) -> tuple[torch.nn.Module, dict[str, float]]:
    """What worker.py does, in-process: build, step every batch, evaluate, save."""
    torch.manual_seed(cfg.seed)
    train, val, _test, info = METHOD.build_data(cfg, DATA, None)
    model = METHOD.build_model(cfg, info)
    loader = DataLoader(train, batch_size=cfg.batch_size, shuffle=True, drop_last=True)
    opt = METHOD.build_optimizers(model, cfg, len(loader) * cfg.epochs)
    metrics: dict[str, float] = {}
    for _ in range(cfg.epochs):
        for batch in loader:
            METHOD.train_step(model, batch, opt, cfg)
        metrics = METHOD.evaluate(model, DataLoader(val, batch_size=64), cfg)
    METHOD.save_model(model, cfg, info, str(out))
    return model, metrics


@pytest.fixture(scope="module")
def stage1(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, float]]:
    out = tmp_path_factory.mktemp("stage1")
    _, metrics = _train(DAMAConfig(stage=1, epochs=1, gamma=0.05, **SMALL), out)  # type: ignore[arg-type]
    return out, metrics


def test_stage1_reports_every_metric_it_declares(stage1: tuple[Path, dict[str, Any]]) -> None:
    _, metrics = stage1
    assert set(metrics) <= set(METHOD.metrics)
    assert {"val/acc", "val/acc/dvd", "val/acc/electronics"} <= set(metrics)
    assert all(0.0 <= v <= 1.0 for k, v in metrics.items() if "acc" in k)


def test_stage2_loads_stage1_weights_and_trains_only_lambda(
    stage1: tuple[Path, dict[str, Any]], tmp_path: Path
) -> None:
    path, _ = stage1
    saved = torch.load(path / "weights.pt", weights_only=True)
    cfg = DAMAConfig(stage=2, init_from=str(path), epochs=1, lambda_lr=5.0, **SMALL)  # type: ignore[arg-type]
    train, _, _, info = METHOD.build_data(cfg, DATA, None)
    model = unwrap(METHOD.build_model(cfg, info))
    loaded = model.state_dict()
    assert all(
        torch.equal(loaded[k], saved[k]) for k in saved if k.startswith(("embed", "encoder"))
    )
    assert [n for n, p in model.named_parameters() if p.requires_grad] == ["lam"]
    opt = METHOD.build_optimizers(model, cfg, 4)
    for batch in DataLoader(train, batch_size=16, drop_last=True):
        METHOD.train_step(model, batch, opt, cfg)
    after = dict(model.named_parameters())
    assert all(torch.equal(p, saved[k]) for k, p in after.items() if k != "lam")  # base frozen
    assert model.lam.abs().sum() > 0 and model.lam.abs().max() <= cfg.bound


def test_stage2_keeps_the_best_dev_state_so_no_domain_falls_below_stage1(
    stage1: tuple[Path, dict[str, Any]], tmp_path: Path
) -> None:
    path, before = stage1
    cfg = DAMAConfig(stage=2, init_from=str(path), epochs=2, lambda_lr=20.0, **SMALL)  # type: ignore[arg-type]
    model, after = _train(cfg, tmp_path / "s2")
    for key, acc in before.items():
        if key.startswith("val/acc/"):
            assert after[key] >= acc - 1e-6, key  # dev accuracy at lambda* >= at lambda = 0
    predict = METHOD.load_predictor(str(tmp_path / "s2"))
    frame = pd.DataFrame(
        {"text": ["long battery life", "a dark slow plot"], "domain": ["electronics", "dvd"]}
    )
    out = predict(frame)
    assert list(out["domain"]) == ["electronics", "dvd"] and set(out["label"]) <= {0, 1}
    assert predict(["great blender"])["domain"][0] in unwrap(model).domains


def test_config_rejects_stage2_without_a_base_and_bad_block_layout() -> None:
    with pytest.raises(ValueError, match="init_from"):
        DAMAConfig(stage=2)
    with pytest.raises(ValueError, match="slstm_at"):
        DAMAConfig(num_blocks=1, slstm_at=(1,))
    with pytest.raises(ValueError, match="alpha"):
        DAMAConfig(alpha=1.0)
