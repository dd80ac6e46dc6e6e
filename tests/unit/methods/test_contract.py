"""The Method contract, checked the same way for every registered method on toy sizes:
data and model build, training steps are finite and reach every trainable parameter,
evaluate reports every declared metric, a saved model loads and predicts, and the
method's search spaces name only its config fields.

Adding a method: one line in TINY (a small config, its data, one raw input to predict).
"""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import torch
from tests.conftest import ROOT
from torch.utils.data import DataLoader

from adaptune.job.space import load_space
from adaptune.job.spec import DataSpec
from adaptune.method import MODEL_METADATA, Method, make_config
from adaptune.methods import METHODS
from adaptune.train.worker import score_test

# method -> (fixed config values, data spec, a raw input for the saved model's predictor)
TINY: dict[str, tuple[dict[str, Any], dict[str, Any], Any]] = {
    "dao": (
        {"lora_rank": 4, "max_len": 16, "batch_size": 8, "epochs": 1, "warmup_steps": 0},
        {"source": "synthetic-finsent", "n_train": 48},
        ["The euro rallied after the ECB signalled more hikes."],
    ),
    "dama": (
        {"embedding_dim": 16, "num_heads": 2, "max_len": 8, "batch_size": 16, "epochs": 1},
        {"source": "synthetic-multidomain", "n_train": 480, "val_fraction": 0.25},
        pd.DataFrame({"text": ["long battery life"], "domain": ["electronics"]}),
    ),
    "mad": (
        {"width": 4, "pretrain_epochs": 1, "batch_size": 16, "epochs": 1, "rank": 2},
        {"source": "digits-decathlon", "n_train": 40, "options": {"size": 16}},
        None,  # filled from the data: one image
    ),
    "dallmi": (
        {"max_len": 16, "batch_size": 8, "pos_batch_size": 1, "epochs": 2, "source_epochs": 1},
        {"source": "synthetic-multilabel", "n_train": 64},
        ["the striker scored twice in the final"],
    ),
}


def test_every_registered_method_has_a_tiny_case() -> None:
    assert set(TINY) == set(METHODS)


def _loader(method: Method, train: Any, cfg: Any) -> Any:
    gen = torch.Generator().manual_seed(0)
    if method.train_loader is not None:
        return method.train_loader(train, cfg, gen, 0, 1)
    return DataLoader(train, batch_size=cfg.batch_size, shuffle=True, drop_last=True, generator=gen)


@pytest.mark.parametrize("name", sorted(METHODS))
def test_method_contract_on_toy_sizes(name: str, tmp_path: Path) -> None:
    method = METHODS[name]
    fixed, data, example = TINY[name]
    torch.manual_seed(0)
    cfg = make_config(method, fixed)
    train, val, test, info = method.build_data(cfg, DataSpec(**data), str(tmp_path / "cache"))
    model = method.build_model(cfg, info)
    trainable = {n: p.detach().clone() for n, p in model.named_parameters() if p.requires_grad}
    assert trainable, "the model has no trainable parameter"
    loader = _loader(method, train, cfg)
    opt = method.build_optimizers(model, cfg, len(loader) * cfg.epochs)
    steps = 0
    for _ in range(cfg.epochs):  # the whole (tiny) schedule: every phase and domain is met
        for batch in loader:
            logs = method.train_step(model, batch, opt, cfg)
            assert math.isfinite(float(logs["loss"])), logs
            steps += 1
    assert steps >= 2
    frozen = [
        n for n, p in model.named_parameters() if p.requires_grad and torch.equal(p, trainable[n])
    ]
    assert frozen == [], "trainable parameters that training never moved"

    metrics = method.evaluate(model, DataLoader(val, batch_size=32), cfg)
    assert set(method.metrics) <= set(metrics), set(method.metrics) - set(metrics)
    assert all(isinstance(metrics[m], float) for m in method.metrics)
    assert math.isfinite(metrics[method.metric])  # others may be undefined (NaN) on toys
    assert len(test) > 0 and info["n_test"] == len(test)
    scored = score_test(method, model, DataLoader(test, batch_size=32), cfg)
    declared = {m.replace("val/", "test/", 1) for m in method.metrics if "/acc/" not in m}
    assert declared <= set(scored), declared - set(scored)

    out = tmp_path / "model"
    out.mkdir()
    method.save_model(model, cfg, info, str(out))
    (out / MODEL_METADATA).write_text(json.dumps({"method": name}))
    predict = method.load_predictor(str(out))
    if example is None:  # an image of the data itself
        example = [val[0][0].permute(1, 2, 0).numpy()]
    frame = predict(example)
    assert isinstance(frame, pd.DataFrame) and len(frame) == 1


@pytest.mark.parametrize("name", sorted(METHODS))
def test_search_spaces_name_only_config_fields(name: str) -> None:
    fields = {f.name for f in dataclasses.fields(METHODS[name].config_cls)}
    spaces = sorted((ROOT / "search_spaces").glob(f"{name}*.yaml"))
    assert spaces, f"no search space for {name}"
    for path in spaces:
        assert set(load_space(path)) <= fields, path.name
