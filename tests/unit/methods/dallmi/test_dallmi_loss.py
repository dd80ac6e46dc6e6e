"""DALLMi's variational PU loss and MixUp penalty against hand-computed values.

The 3-sample case: x1, x2 unlabelled with Phi = 0.2, 0.6; x3 a labelled positive with
Phi = 0.8; MixUp pairs x3 with x1 at mu = 0.25, and the mixed sample scores 0.5.
"""

from __future__ import annotations

import math

import pytest
import torch

from adaptune.methods.dallmi.loss import mixup_loss, mixup_target, variational_loss


def logit(p: list[float]) -> torch.Tensor:
    t = torch.tensor(p, dtype=torch.float64)
    return torch.log(t / (1 - t))


def test_norm_variational_loss_is_mean_unlabelled_minus_positive_norm() -> None:
    # mean(0.2, 0.6) - ||(0.8)||_2 = 0.4 - 0.8
    got = variational_loss(logit([0.2, 0.6]), logit([0.8]), "norm")
    assert got.item() == pytest.approx(-0.4)


def test_norm_uses_the_l2_norm_of_the_positive_vector() -> None:
    # ||(0.6, 0.8)||_2 = 1.0, not their mean 0.7
    got = variational_loss(logit([0.2, 0.6]), logit([0.6, 0.8]), "norm")
    assert got.item() == pytest.approx(0.4 - 1.0)


def test_log_variational_loss_is_vpu() -> None:
    # log mean(0.2, 0.6) - mean log(0.8) = log 0.4 - log 0.8 = log 0.5
    got = variational_loss(logit([0.2, 0.6]), logit([0.8]), "log")
    assert got.item() == pytest.approx(math.log(0.5))


def test_log_form_stays_finite_for_saturated_outputs() -> None:
    got = variational_loss(torch.tensor([-200.0, -300.0]), torch.tensor([-150.0]), "log")
    assert torch.isfinite(got)


def test_mixup_target_is_mu_plus_rest_times_unlabelled_score() -> None:
    # 0.25 + 0.75 * 0.2 = 0.4
    target = mixup_target(torch.tensor([0.25], dtype=torch.float64), logit([0.2]))
    assert target.item() == pytest.approx(0.4)


def test_mixup_target_carries_no_gradient_to_the_unlabelled_score() -> None:
    z_u = logit([0.2]).requires_grad_()
    assert not mixup_target(torch.tensor([0.25], dtype=torch.float64), z_u).requires_grad


@pytest.mark.parametrize(
    ("form", "expected"),
    [("norm", (0.4 - 0.5) ** 2), ("log", math.log(0.4 / 0.5) ** 2)],
)
def test_mixup_penalty_on_the_three_sample_case(form: str, expected: float) -> None:
    target = mixup_target(torch.tensor([0.25], dtype=torch.float64), logit([0.2]))
    assert mixup_loss(target, logit([0.5]), form).item() == pytest.approx(expected)


def test_mixup_penalty_has_a_gradient_towards_the_target() -> None:
    # The authors' code adds this term through .item(); here it must train the model.
    z = logit([0.5]).requires_grad_()
    mixup_loss(torch.tensor([0.4], dtype=torch.float64), z, "norm").backward()
    assert z.grad is not None and z.grad.item() > 0  # Phi(x~) too high: push it down


def test_unknown_form_is_rejected() -> None:
    with pytest.raises(ValueError, match="loss form"):
        variational_loss(logit([0.2]), logit([0.8]), "l1")
