"""DAO's controls (issue 15): regression-only w_c = 0, the weight floor under training,
task gradients with respect to the parameters, and the logged weight trajectory."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from adaptune.job.spec import DataSpec
from adaptune.methods import get_method
from adaptune.methods.dao.config import DAOConfig
from adaptune.methods.dao.loss import DAOWeighting, dao_losses, score_to_class, task_coefficients
from adaptune.methods.dao.report import read_trajectory

TINY = {"lora_rank": 4, "max_len": 16, "batch_size": 8, "warmup_steps": 0, "epochs": 1}


def _trained(tmp_path: Path, steps: int = 4, **overrides: object) -> tuple[object, DAOConfig]:
    method = get_method("dao")
    cfg = DAOConfig(**{**TINY, **overrides})  # type: ignore[arg-type]
    train, _val, _test, info = method.build_data(
        cfg, DataSpec(source="synthetic-finsent", n_train=48), str(tmp_path / "cache")
    )
    torch.manual_seed(0)
    model = method.build_model(cfg, info)
    opt = method.build_optimizers(model, cfg, total_steps=steps)
    for i in range(steps):
        logs = method.train_step(model, train[8 * i : 8 * i + 8], opt, cfg)
        assert math.isfinite(float(logs["loss"]))
    return model, cfg


def test_w_c_zero_is_allowed_and_trains_regression_only(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="w_c"):
        DAOConfig(weighting="constant", w_c=1.0)
    with pytest.raises(ValueError, match="w_c"):
        DAOConfig(weighting="constant", w_c=-0.1)
    torch.manual_seed(0)
    model, _ = _trained(tmp_path, steps=2, weighting="constant", w_c=0.0)
    fresh = get_method("dao").build_model(DAOConfig(**TINY, weighting="constant"), {})  # type: ignore[arg-type]
    # The classification head gets no gradient at w_c = 0 (AdamW's weight decay still
    # shrinks it, so compare directions of change against the regression head's).
    cls = model.cls_head[1].weight  # type: ignore[attr-defined]
    assert cls.grad is None or float(cls.grad.abs().max()) == 0.0
    reg = model.reg_head[0].weight  # type: ignore[attr-defined]
    assert reg.grad is not None and float(reg.grad.abs().max()) > 0.0
    assert fresh.weighting is None


def test_floor_bounds_both_weights_through_training(tmp_path: Path) -> None:
    model, _ = _trained(tmp_path, steps=4, dao_min_weight=0.1, dao_lr=0.5, log_every=1)
    rows = model.trajectory  # type: ignore[attr-defined]
    assert [r["step"] for r in rows] == [1, 2, 3, 4]
    for r in rows:
        assert 0.1 - 1e-6 <= r["w_c"] <= 0.9 + 1e-6 and r["w_r"] + r["w_c"] == pytest.approx(1.0)
    with pytest.raises(ValueError, match="dao_min_weight"):
        DAOConfig(dao_min_weight=0.5)


def test_floor_zero_lets_the_softmax_reach_zero() -> None:
    w = DAOWeighting(min_weight=0.0)
    with torch.no_grad():
        w.fc2.weight.zero_()
        w.fc2.bias.copy_(torch.tensor([30.0, -30.0]))
    assert float(w(torch.tensor([1.0, 1.0]))[1]) < 1e-20


def test_task_coefficients_with_respect_to_parameters_by_hand() -> None:
    a = torch.tensor([1.0, 2.0], requires_grad=True)
    b = torch.tensor([[3.0]], requires_grad=True)
    l_r = (a**2).sum() + 0 * b.sum()  # grads: 2a = [2, 4] and 0 -> norm sqrt(20)
    l_c = a.sum() + (b**2).sum()  # grads: [1, 1] and 2b = 6 -> norm sqrt(38)
    lam_r, lam_c = task_coefficients(l_r, l_c, [a, b])
    g_r, g_c = math.sqrt(20), math.sqrt(38)
    assert lam_r.item() == pytest.approx(g_c / (g_r + g_c))
    assert lam_c.item() == pytest.approx(g_r / (g_r + g_c))


def test_parameters_unused_by_a_loss_count_as_zero_gradient() -> None:
    a = torch.tensor([3.0, 4.0], requires_grad=True)
    unused = torch.tensor([1.0], requires_grad=True)
    lam_r, lam_c = task_coefficients((a**2).sum(), a.sum(), [a, unused])
    g_r, g_c = 10.0, math.sqrt(2)
    assert lam_r.item() == pytest.approx(g_c / (g_r + g_c))
    assert lam_c.item() == pytest.approx(g_r / (g_r + g_c))


def test_dao_losses_accept_a_parameter_list() -> None:
    torch.manual_seed(0)
    enc = torch.nn.Linear(3, 4)
    x = torch.randn(6, 3)
    y = torch.tensor([0.9, 0.2, 0.0, -0.3, -0.8, 0.7])
    z = score_to_class(y)
    h = enc(x)
    l_r = F.mse_loss(torch.nn.Linear(4, 1)(h).squeeze(-1), y)
    ce = F.cross_entropy(torch.nn.Linear(4, 5)(h), z, reduction="none")
    _, by_h = dao_losses(DAOWeighting(), l_r, ce, z, h)
    _, by_p = dao_losses(DAOWeighting(), l_r, ce, z, list(enc.parameters()))
    for logs in (by_h, by_p):
        assert logs["lambda_r"].item() + logs["lambda_c"].item() == pytest.approx(1.0)
    assert by_h["lambda_r"].item() != pytest.approx(by_p["lambda_r"].item())


@pytest.mark.parametrize("wrt", ["H", "params"])
def test_training_step_with_either_gradient_reading(tmp_path: Path, wrt: str) -> None:
    model, _cfg = _trained(tmp_path, steps=2, dao_grad_wrt=wrt, log_every=1)
    rows = model.trajectory  # type: ignore[attr-defined]
    assert len(rows) == 2 and all(0.0 < r["lambda_r"] < 1.0 for r in rows)
    with pytest.raises(ValueError):
        DAOConfig(log_every=0)


def test_saved_model_holds_the_trajectory_csv_and_png(tmp_path: Path) -> None:
    model, cfg = _trained(tmp_path, steps=3, log_every=2)
    out = tmp_path / "saved"
    get_method("dao").save_model(model, cfg, {}, str(out))  # type: ignore[arg-type]
    rows = read_trajectory(out / "dao_trajectory.csv")
    assert [r["step"] for r in rows] == [1.0, 2.0]  # step 1, then every log_every
    assert {"w_c", "alpha", "beta", "lambda_c"} <= set(rows[0])
    assert (out / "dao_trajectory.png").stat().st_size > 1000


def test_constant_weighting_saves_no_trajectory(tmp_path: Path) -> None:
    model, cfg = _trained(tmp_path, steps=1, weighting="constant")
    out = tmp_path / "saved"
    get_method("dao").save_model(model, cfg, {}, str(out))  # type: ignore[arg-type]
    assert not (out / "dao_trajectory.csv").exists()


def test_step_series_hands_each_logged_step_once_as_mlflow_metrics(tmp_path: Path) -> None:
    from adaptune.tracking import series_batch

    model, _ = _trained(tmp_path, steps=4, log_every=2)
    step_series = get_method("dao").step_series
    assert step_series is not None
    series = step_series(model)
    assert set(series) == {"dao/w_c", "dao/alpha", "dao/beta"}
    assert [s for s, _ in series["dao/w_c"]] == [1, 2, 4]  # step 1, then every log_every
    assert step_series(model) == {}  # sent once: the next epoch sends only new steps
    batch = series_batch(series)
    assert {(m.key, m.step) for m in batch} >= {("dao_step/w_c", 4), ("dao_step/beta", 1)}
    assert all(0.0 <= m.value <= 1.0 for m in batch if m.key == "dao_step/w_c")
