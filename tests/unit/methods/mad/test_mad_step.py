"""MAD's data, single-domain batches, step, evaluation, score, save -> predictor and plot."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import pytest
import torch
from torch.utils.data import DataLoader

from adaptune.job.spec import DataSpec
from adaptune.methods import get_method
from adaptune.methods.mad.config import DOMAINS, MADConfig
from adaptune.methods.mad.data import digits_decathlon, transform
from adaptune.methods.mad.report import accuracy_vs_params_plot
from adaptune.methods.mad.step import decathlon_score, domain_batches

TINY = MADConfig(width=4, pretrain_epochs=1, batch_size=16, epochs=1)
DATA = DataSpec(source="digits-decathlon", n_train=60, seed=0, val_fraction=0.25)


def test_digits_decathlon_has_six_deterministic_distinct_domains() -> None:
    x, y, d = digits_decathlon(size=16, n=20)
    again, _, _ = digits_decathlon(size=16, n=20)
    assert len(DOMAINS) >= 6 and x.shape == (6 * 20, 3, 16, 16)
    assert torch.equal(x, again) and x.min() >= 0.0 and x.max() <= 1.0
    assert torch.equal(y[:20], y[20:40]) and torch.equal(d.unique(), torch.arange(6))
    per_domain = x.view(6, 20, -1)
    for i in range(6):
        for j in range(i + 1, 6):
            assert not torch.allclose(per_domain[i], per_domain[j]), (DOMAINS[i], DOMAINS[j])


def test_unknown_domain_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown domain 'sketch'"):
        transform(torch.zeros(1, 3, 8, 8), "sketch")


def test_batches_hold_one_domain_and_cover_each_domain() -> None:
    domains = torch.arange(3).repeat_interleave(10)
    batches = domain_batches(domains, 4, torch.Generator().manual_seed(0))
    assert len(batches) == 3 * 2  # 10 per domain -> two full batches of 4 each
    for b in batches:
        assert len(b) == 4 and len(set(domains[b].tolist())) == 1
    assert {int(domains[b[0]]) for b in batches} == {0, 1, 2}


def test_data_split_keeps_validation_digits_out_of_every_training_domain(tmp_path: Path) -> None:
    method = get_method("mad")
    train, val, test, info = method.build_data(TINY, DATA, str(tmp_path))
    # The source domain is never trained on (it uses the base unchanged): train rows
    # cover the other domains only, val and test every domain.
    n_tr = info["n_train"] // (len(DOMAINS) - 1)
    n_va, n_te = (info[k] // len(DOMAINS) for k in ("n_val", "n_test"))
    assert n_tr + n_va + n_te == 60 and n_te >= 10 and n_va == round((60 - n_te) * 0.25)
    assert len(info["fingerprint"]) == 64 and info["domains"] == list(DOMAINS)
    for k in range(1, len(DOMAINS)):  # rows are grouped by domain; splits share no digit
        sets = [
            {tuple(x.flatten().tolist()) for x in ds.tensors[0][n * j : n * (j + 1)]}
            for ds, n, j in ((train, n_tr, k - 1), (val, n_va, k), (test, n_te, k))
        ]
        assert [len(x) for x in sets] == [n_tr, n_va, n_te]
        assert not sets[0] & sets[1] and not sets[0] & sets[2] and not sets[1] & sets[2]
    # The pretrained base is cached: a second build reads it back unchanged.
    cached = list(tmp_path.glob("*.pt"))
    assert len(cached) == 1
    _, _, _, again = method.build_data(TINY, DATA, str(tmp_path))
    for k, v in info["base_state"].items():
        assert torch.equal(v, again["base_state"][k]), k


def test_decathlon_score_formula() -> None:
    # E_max = 2 x baseline error; each domain is worth up to 1000 points, 0 at E >= E_max.
    assert decathlon_score([0.0], (0.1,)) == pytest.approx(1000.0)
    assert decathlon_score([0.1], (0.1,)) == pytest.approx(250.0)  # 1000 (0.2-0.1)^2/0.2^2
    assert decathlon_score([0.3, 0.05], (0.1, 0.05)) == pytest.approx(0.0 + 1000.0 * 0.25)


def test_a_step_and_evaluation_report_every_metric(tmp_path: Path) -> None:
    method = get_method("mad")
    cfg = MADConfig(**{**TINY.__dict__, "rank": 4, "baseline_errors": (0.5,) * 6})
    train, val, _test, info = method.build_data(cfg, DATA, str(tmp_path))
    model = method.build_model(cfg, info)
    assert method.train_loader is not None
    loader = method.train_loader(train, cfg, torch.Generator().manual_seed(0), 0, 1)
    opt = method.build_optimizers(model, cfg, len(loader))
    logs = [method.train_step(model, batch, opt, cfg) for batch in loader]
    assert all(math.isfinite(v) for row in logs for v in row.values())
    metrics = method.evaluate(model, DataLoader(val, batch_size=64), cfg)
    assert set(metrics) == set(method.metrics)
    assert 0.0 <= metrics["val/acc"] <= 1.0 and math.isfinite(metrics["val/score"])
    assert metrics["val/params_adapter"] == model.params_per_domain()["adapter"] > 0


def test_score_is_nan_without_baseline_errors(tmp_path: Path) -> None:
    method = get_method("mad")
    _, val, _, info = method.build_data(TINY, DATA, str(tmp_path))
    metrics = method.evaluate(method.build_model(TINY, info), DataLoader(val, batch_size=64), TINY)
    assert math.isnan(metrics["val/score"])


def test_mixed_domain_batch_is_refused(tmp_path: Path) -> None:
    method = get_method("mad")
    train, _, _, info = method.build_data(TINY, DATA, str(tmp_path))
    model = method.build_model(TINY, info)
    opt = method.build_optimizers(model, TINY, 1)
    mixed = (train.tensors[0][[0, -1]], train.tensors[1][[0, -1]], train.tensors[2][[0, -1]])
    with pytest.raises(ValueError, match="one domain"):
        method.train_step(model, mixed, opt, TINY)


def test_saved_model_predicts_raw_images_per_domain(tmp_path: Path) -> None:
    method = get_method("mad")
    _, _, _, info = method.build_data(TINY, DATA, str(tmp_path / "cache"))
    model = method.build_model(TINY, info).eval()
    method.save_model(model, TINY, info, str(tmp_path / "model"))
    predict = method.load_predictor(str(tmp_path / "model"))
    x, _, _ = digits_decathlon(size=info["size"], n=2)
    images = [x[0].numpy(), x[0, 0].numpy()]  # (3, H, W) and a grey (H, W)
    out = predict(pd.DataFrame({"image": images, "domain": ["original", "inverted"]}))
    assert list(out.columns) == ["domain", "class", "prob"]
    assert list(out["domain"]) == ["original", "inverted"]
    assert all(0 <= c < 10 for c in out["class"]) and all(0 < p <= 1 for p in out["prob"])
    # The same network as in training: the predictor reproduces its logits' argmax.
    from adaptune.methods.mad.step import normalise

    with torch.no_grad():
        expected = model(normalise(x[:1]), 0).argmax(-1).item()
    assert out["class"][0] == expected


def test_accuracy_vs_params_plot_writes_a_png(tmp_path: Path) -> None:
    rows = [
        {"label": "bn_head", "params": 0, "acc": 0.90},
        {"label": "I=4", "params": 5000, "acc": 0.93},
        {"label": "full", "params": 40000, "acc": 0.95},
    ]
    path = accuracy_vs_params_plot(rows, tmp_path / "plot.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 1000
    with pytest.raises(ValueError, match="no rows"):
        accuracy_vs_params_plot([], tmp_path / "empty.png")


@pytest.mark.parametrize(
    "bad", [{"rank": -1}, {"baseline_errors": (1.5,)}, {"width": 0}, {"init_noise": -0.1}]
)
def test_config_rejects_bad_values(bad: dict) -> None:
    with pytest.raises(ValueError):
        MADConfig(**bad)
