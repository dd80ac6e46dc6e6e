"""DAO's losses against hand-computed values (METHODS.md, DAO)."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from adaptune.methods.dao.loss import (
    DAOWeighting,
    class_stats,
    dao_losses,
    imbalance_loss,
    score_to_class,
    task_coefficients,
)


def test_score_to_class_follows_eq4_boundaries() -> None:
    y = torch.tensor([0.51, 0.5, 0.05, 0.049, 0.0, -0.049, -0.05, -0.5, -0.51])
    assert score_to_class(y).tolist() == [4, 3, 3, 2, 2, 2, 1, 1, 0]


def test_class_stats_proportions_and_per_class_ce() -> None:
    ce = torch.tensor([1.0, 3.0, 2.0, 4.0])
    z = torch.tensor([0, 0, 2, 4])
    p, l_ck = class_stats(ce, z)
    assert p.tolist() == [0.5, 0.25, 0.25]
    assert l_ck.tolist() == [2.0, 2.0, 4.0]


def test_imbalance_loss_by_hand() -> None:
    p = torch.tensor([0.5, 0.25, 0.25])
    l_ck = torch.tensor([2.0, 2.0, 4.0])
    alpha, beta = torch.tensor(0.1), torch.tensor(0.5)
    # v_k = p^-0.5 = [sqrt2, 2, 2]
    expected = (
        math.sqrt(2) * (0.5 * 2.0 - 0.1 * math.log(0.5))
        + 2 * (0.25 * 2.0 - 0.1 * math.log(0.25))
        + 2 * (0.25 * 4.0 - 0.1 * math.log(0.25))
    )
    assert imbalance_loss(p, l_ck, alpha, beta).item() == pytest.approx(expected, rel=1e-6)


def test_task_coefficients_are_cross_normalised_gradient_norms() -> None:
    h = torch.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    l_r = (h**2).sum()  # gradient 2h, norm 2*sqrt(30)
    l_c = h.sum()  # gradient ones, norm 2
    lam_r, lam_c = task_coefficients(l_r, l_c, h)
    g_r, g_c = 2 * math.sqrt(30), 2.0
    assert lam_r.item() == pytest.approx(g_c / (g_r + g_c))
    assert lam_c.item() == pytest.approx(g_r / (g_r + g_c))
    assert not lam_r.requires_grad


def test_alpha_beta_parametrisation_starts_at_config_and_stays_bounded() -> None:
    w = DAOWeighting(alpha_init=0.1, beta_init=0.5)
    assert w.alpha.item() == pytest.approx(0.1, rel=1e-5)
    assert w.beta.item() == pytest.approx(0.5)
    with torch.no_grad():
        w.a.fill_(-50.0)
        w.b.fill_(50.0)
    assert w.alpha.item() > 0 and 0 < w.beta.item() <= 1


def test_weight_floor() -> None:
    w = DAOWeighting(min_weight=0.2)
    with torch.no_grad():
        w.fc2.bias.copy_(torch.tensor([100.0, -100.0]))
        w.fc2.weight.zero_()
    out = w(torch.tensor([1.0, 1.0]))
    assert out.tolist() == pytest.approx([0.8, 0.2])


def test_fixed_alpha_beta_get_no_gradient() -> None:
    assert not DAOWeighting(learn_alpha_beta=False).a.requires_grad


def _setup() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, DAOWeighting]:
    torch.manual_seed(0)
    h = torch.randn(6, 4, requires_grad=True)
    y = torch.tensor([0.9, 0.2, 0.0, -0.3, -0.8, 0.7])
    z = score_to_class(y)
    head_r, head_c = torch.nn.Linear(4, 1), torch.nn.Linear(4, 5)
    l_r = F.mse_loss(head_r(h).squeeze(-1), y)
    ce = F.cross_entropy(head_c(h), z, reduction="none")
    return l_r, ce, z, h, DAOWeighting()


def test_backbone_gradient_uses_detached_weights() -> None:
    l_r, ce, z, h, weighting = _setup()
    loss, logs = dao_losses(weighting, l_r, ce, z, h)
    (g_h,) = torch.autograd.grad(loss, h, retain_graph=True)
    p, l_ck = class_stats(ce, z)
    l_imb = imbalance_loss(p, l_ck, weighting.alpha.detach(), weighting.beta.detach())
    manual = logs["lambda_r"] * logs["w_r"] * l_r + logs["lambda_c"] * logs["w_c"] * l_imb
    (g_manual,) = torch.autograd.grad(manual, h)
    torch.testing.assert_close(g_h, g_manual)


def test_module_alpha_beta_get_gradients_from_detached_inputs() -> None:
    l_r, ce, z, h, weighting = _setup()
    loss, logs = dao_losses(weighting, l_r, ce, z, h)
    loss.backward()
    for p in weighting.parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all()
    assert logs["w_r"].item() + logs["w_c"].item() == pytest.approx(1.0)
    # Minimising L pulls α down: ∂L/∂α = -λ_c w_c Σ v_k log p_k > 0 (the Resolution's reason).
    assert weighting.a.grad.item() > 0
