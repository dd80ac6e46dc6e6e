"""DAMA stage 2: domain-information modulation of the input embeddings, and Algorithm 1.

    x_mod = modulate_model(model, x, mask, domains, model.lam)  # x + lam[d] * grad_x L_d
    scale_step(model, acc, present, alpha=1.5, beta=2.0, bound=100.0)   # once per epoch

g = grad_x L_d is taken from the batch-mean domain loss and detached, so lambda gets
its gradient through x' only (dL_s/dlam_d = <dL_s/dx', g>): no second-order graph.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

from .model import DAMAModel

DomainLogits = Callable[[torch.Tensor], torch.Tensor]  # embeddings -> domain logits


def modulate(
    domain_logits: DomainLogits,
    x: torch.Tensor,
    domains: torch.Tensor,
    lam: torch.Tensor,
    n_ref: float,
) -> torch.Tensor:
    """x' = x + sigma with sigma = lam[d] * grad_x L_d: lam > 0 removes domain information,
    lam < 0 injects it. Differentiable in lam (x itself is treated as data).

    grad_x L_d is of the batch-mean domain cross-entropy, a constant (detached) tensor. The
    mean is over `n_ref` samples (the training batch size), whatever this batch's size, so
    that evaluation and serving see the same per-sample scale as training."""
    x0 = x.detach().requires_grad_(True)
    with torch.enable_grad():
        loss = F.cross_entropy(domain_logits(x0).float(), domains, reduction="sum") / n_ref
        (g,) = torch.autograd.grad(loss, x0)
    sigma = lam[domains].view(-1, *([1] * (x.dim() - 1))) * g.detach()
    return x.detach() + sigma


def modulate_model(
    model: DAMAModel, x: torch.Tensor, mask: torch.Tensor, domains: torch.Tensor, lam: torch.Tensor
) -> torch.Tensor:
    """`modulate` with the model's domain classifier and its reference batch size."""
    return modulate(lambda z: model.domain_logits(z, mask), x, domains, lam, float(model.grad_ref))


@torch.no_grad()
def scale_step(
    model: DAMAModel,
    acc: torch.Tensor,
    present: torch.Tensor,
    alpha: float,
    beta: float,
    bound: float,
    scaling: str = "lambda",
) -> None:
    """Algorithm 1 for every domain with dev data (`present`), given its dev accuracy `acc`
    at the current lambda. Improved: remember lambda as lam_star, then grow (lambda times
    alpha, clamped; or its learning rate, for scaling="lr"). Worse: fall back to lam_star
    divided by beta (or to lam_star with the learning rate divided by beta). Equal: keep.
    best_acc must hold the dev accuracy at lambda = 0 before the first call."""
    lam, star, best = model.lam.data, model.lam_star, model.best_acc
    up = present & (acc > best)
    down = present & (acc < best)
    best[up] = acc[up]
    star[up] = lam[up]
    if scaling == "lambda":
        lam[up] = (alpha * lam[up]).clamp(-bound, bound)
        lam[down] = star[down] / beta
    else:
        model.lr_scale[up] *= alpha
        model.lr_scale[down] /= beta
        lam[down] = star[down]


@torch.no_grad()
def clamp_lambda(model: DAMAModel, before: torch.Tensor, bound: float) -> None:
    """After an optimiser step: apply the per-domain learning-rate scale, then [-b, b]."""
    lam = model.lam.data
    lam.copy_((before + model.lr_scale * (lam - before)).clamp(-bound, bound))
