"""DAMA stage 2's modulation step and Algorithm 1, on tiny cases checked by hand."""

from __future__ import annotations

import pytest
import torch

from adaptune.methods.dama.model import Arch, DAMAModel
from adaptune.methods.dama.modulation import clamp_lambda, modulate, scale_step

# A linear "domain classifier" on the summed embeddings: logits = (sum_t x_t) @ W.
W = torch.tensor([[1.0, -1.0], [0.5, 2.0]])  # (dim 2) -> 2 domains


def linear_domain_logits(x: torch.Tensor) -> torch.Tensor:
    return x.sum(1) @ W


def test_sigma_is_lambda_times_the_batch_mean_domain_gradient() -> None:
    # Two samples, 3 tokens of dim 2. By hand: dL/dlogits_i = (softmax_i - onehot_i) / n,
    # and every token t of sample i gets dL/dx_it = W @ dL/dlogits_i.
    x = torch.tensor([[[0.1, 0.2], [0.0, 0.3], [0.2, -0.1]], [[1.0, 0.0], [0.0, 0.0], [0.5, 0.5]]])
    d = torch.tensor([0, 1])
    lam = torch.tensor([2.0, -3.0])
    p = torch.softmax(linear_domain_logits(x), -1)
    grad_logits = (p - torch.eye(2)[d]) / 2
    g = (grad_logits @ W.T).unsqueeze(1).expand(2, 3, 2)
    x_mod = modulate(linear_domain_logits, x, d, lam, n_ref=2)
    assert torch.allclose(x_mod - x, torch.stack([2.0 * g[0], -3.0 * g[1]]), atol=1e-6)


def test_lambda_gets_its_gradient_through_x_prime_only() -> None:
    # dL/dlam_d = <dL/dx', g> summed over domain d's samples, with g a constant.
    x = torch.randn(4, 3, 2)
    d = torch.tensor([0, 1, 0, 1])
    lam = torch.tensor([0.5, 1.5], requires_grad=True)
    x_mod = modulate(linear_domain_logits, x, d, lam, n_ref=4)
    target = torch.randn(4, 3, 2)
    loss = (x_mod * target).sum()  # dL/dx' = target
    loss.backward()
    zero = torch.zeros(2)
    g = (modulate(linear_domain_logits, x, d, torch.ones(2), n_ref=4) - x).detach()
    expected = zero.index_add(0, d, (target * g).sum((1, 2)))
    assert lam.grad is not None and torch.allclose(lam.grad, expected, atol=1e-5)
    assert lam.grad.abs().sum() > 0


def _model(m: int = 3) -> DAMAModel:
    return DAMAModel(Arch(vocab_size=10, n_domains=m, embedding_dim=8, num_blocks=1, slstm_at=()))


def test_lambda_stays_within_the_bound_after_a_step() -> None:
    model = _model()
    before = torch.tensor([90.0, -90.0, 0.0])
    model.lam.data = torch.tensor([130.0, -400.0, 20.0])  # as if Adam overshot
    clamp_lambda(model, before, bound=100.0)
    assert model.lam.tolist() == [100.0, -100.0, 20.0]


def test_lr_reading_scales_each_domains_step() -> None:
    model = _model(2)
    model.lr_scale.copy_(torch.tensor([2.0, 0.5]))
    before = torch.tensor([1.0, 1.0])
    model.lam.data = torch.tensor([2.0, 2.0])  # the optimiser moved both by +1
    clamp_lambda(model, before, bound=100.0)
    assert model.lam.tolist() == [3.0, 1.5]


def test_algorithm1_grows_on_improvement_and_shrinks_on_a_drop() -> None:
    model = _model()
    model.best_acc.copy_(torch.tensor([0.70, 0.70, 0.70]))  # dev accuracy at lambda = 0
    model.lam.data = torch.tensor([10.0, -8.0, 4.0])
    present = torch.tensor([True, True, True])
    scale_step(model, torch.tensor([0.75, 0.75, 0.70]), present, 1.5, 2.0, 100.0)
    # Improved: lambda* = lambda, lambda grows by alpha; equal: untouched.
    assert model.lam_star.tolist() == [10.0, -8.0, 0.0]
    assert model.lam.tolist() == [15.0, -12.0, 4.0]
    assert model.best_acc.tolist() == pytest.approx([0.75, 0.75, 0.70])
    # Domain 0 drops: back to lambda* / beta; domain 1 improves again, clamped at the bound.
    model.lam.data[1] = -90.0
    scale_step(model, torch.tensor([0.72, 0.80, 0.60]), present, 1.5, 2.0, 100.0)
    assert model.lam.tolist() == [5.0, -100.0, 0.0]
    assert model.lam_star.tolist() == [10.0, -90.0, 0.0]  # the kept best states
    assert model.best_acc.tolist() == pytest.approx([0.75, 0.80, 0.70])


def test_algorithm1_lr_reading_scales_the_learning_rate_and_keeps_lambda_star() -> None:
    model = _model(2)
    model.best_acc.copy_(torch.tensor([0.5, 0.5]))
    model.lam.data = torch.tensor([3.0, 6.0])
    scale_step(model, torch.tensor([0.6, 0.4]), torch.tensor([True, True]), 1.5, 2.0, 9.0, "lr")
    assert model.lr_scale.tolist() == [1.5, 0.5]
    assert model.lam.tolist() == [3.0, 0.0]  # improved: unchanged; dropped: back to lambda*
    assert model.lam_star.tolist() == [3.0, 0.0]


def test_algorithm1_skips_domains_without_dev_data() -> None:
    model = _model(2)
    model.best_acc.copy_(torch.tensor([0.5, 0.5]))
    model.lam.data = torch.tensor([3.0, 3.0])
    scale_step(model, torch.tensor([0.9, 0.0]), torch.tensor([True, False]), 1.5, 2.0, 100.0)
    assert model.lam.tolist() == [4.5, 3.0]
