"""DAO's losses: the score -> class mapping (Eq. 4), L_imb, and the weighting module.

Shapes: y (B,) scores in [-1, 1]; z (B,) classes 0..4; logits (B, 5).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

NUM_CLASSES = 5
CLASS_NAMES = ("strongly negative", "negative", "neutral", "positive", "strongly positive")


def score_to_class(y: torch.Tensor) -> torch.Tensor:
    """Eq. 4: >0.5 -> 4; (0.049, 0.5] -> 3; [-0.049, 0.049] -> 2; [-0.5, -0.049) -> 1; else 0."""
    z = torch.full_like(y, 2, dtype=torch.long)
    z[y > 0.049] = 3
    z[y > 0.5] = 4
    z[y < -0.049] = 1
    z[y < -0.5] = 0
    return z


def class_stats(ce: torch.Tensor, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Batch proportions p_k and mean CE L_c,k over the classes present in the batch."""
    counts = torch.bincount(z, minlength=NUM_CLASSES).to(ce.dtype)
    sums = torch.zeros(NUM_CLASSES, dtype=ce.dtype, device=ce.device).index_add(0, z, ce)
    present = counts > 0
    p = counts[present] / z.numel()
    return p, sums[present] / counts[present]


def imbalance_loss(
    p: torch.Tensor, l_ck: torch.Tensor, alpha: torch.Tensor, beta: torch.Tensor
) -> torch.Tensor:
    """L_imb = sum_k v_k (p_k L_c,k - alpha log p_k), v_k = p_k^(-beta)."""
    v = p.pow(-beta)
    return (v * (p * l_ck - alpha * p.log())).sum()


def _inverse_softplus(x: float) -> float:
    return x + math.log(-math.expm1(-x))


class DAOWeighting(nn.Module):
    """h = ReLU(FC1([λ_r L_r, λ_c L_imb] (+ p)), s = FC2(h), w = floor-mixed softmax(s).

    α = softplus(a) and β = sigmoid(b): minimising L alone would drive a raw α to -∞
    (METHODS.md, Resolution), so both live in a bounded parametrisation.
    """

    def __init__(
        self,
        hidden: int = 16,
        alpha_init: float = 0.1,
        beta_init: float = 0.5,
        learn_alpha_beta: bool = True,
        min_weight: float = 0.0,
        use_proportions: bool = False,
    ):
        super().__init__()
        self.use_proportions = use_proportions
        self.fc1 = nn.Linear(2 + (NUM_CLASSES if use_proportions else 0), hidden)
        self.fc2 = nn.Linear(hidden, 2)
        self.min_weight = min_weight
        a = torch.tensor(_inverse_softplus(alpha_init))
        b = torch.logit(torch.tensor(beta_init))
        self.a = nn.Parameter(a, requires_grad=learn_alpha_beta)
        self.b = nn.Parameter(b, requires_grad=learn_alpha_beta)

    @property
    def alpha(self) -> torch.Tensor:
        return F.softplus(self.a)

    @property
    def beta(self) -> torch.Tensor:
        return torch.sigmoid(self.b)

    def forward(
        self, losses: torch.Tensor, proportions: torch.Tensor | None = None
    ) -> torch.Tensor:
        x = losses
        if self.use_proportions:
            assert proportions is not None
            x = torch.cat([x, proportions])
        w = torch.softmax(self.fc2(F.relu(self.fc1(x))), dim=-1)
        return self.min_weight + (1.0 - 2.0 * self.min_weight) * w


def _grad_norm(loss: torch.Tensor, wrt: Sequence[torch.Tensor]) -> torch.Tensor:
    grads = torch.autograd.grad(loss, list(wrt), retain_graph=True, allow_unused=True)
    squares = [g.detach().float().pow(2).sum() for g in grads if g is not None]
    return torch.stack(squares).sum().sqrt() if squares else loss.new_zeros(()).float()


def task_coefficients(
    l_r: torch.Tensor, l_c: torch.Tensor, wrt: torch.Tensor | Sequence[torch.Tensor]
) -> tuple[torch.Tensor, torch.Tensor]:
    """λ_r = ‖g_c‖/(‖g_r‖+‖g_c‖), λ_c = ‖g_r‖/(…); detached.

    `wrt` is the shared H (METHODS.md's resolution: the same intent, relative task
    gradient scale, at near-zero cost) or a list of shared trainable parameters (the
    paper's literal reading, `dao_grad_wrt: params`); with several tensors the norm is
    over all of them together.
    """
    tensors = [wrt] if isinstance(wrt, torch.Tensor) else list(wrt)
    g_r, g_c = (_grad_norm(loss, tensors) for loss in (l_r, l_c))
    total = (g_r + g_c).clamp_min(1e-12)
    return g_c / total, g_r / total


def batch_proportions(z: torch.Tensor) -> torch.Tensor:
    return torch.bincount(z, minlength=NUM_CLASSES).float() / z.numel()


def dao_losses(
    weighting: DAOWeighting,
    l_r: torch.Tensor,
    ce: torch.Tensor,
    z: torch.Tensor,
    wrt: torch.Tensor | Sequence[torch.Tensor],
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """The DAO objective as one scalar whose backward updates both parties correctly.

    Backbone part: λ_r sg(w_r) L_r + λ_c sg(w_c) L_imb(sg α, sg β)  -> encoder and heads.
    Module part:   λ_r w_r sg(L_r) + λ_c w_c L_imb(α, β; sg CE)    -> DAO module, α, β,
    its inputs [λ_r L_r, λ_c L_imb] detached, so the two updates do not fight.
    `wrt`: what λ's gradients are taken with respect to (task_coefficients).
    """
    l_c = ce.mean()
    lam_r, lam_c = task_coefficients(l_r, l_c, wrt)
    alpha, beta = weighting.alpha, weighting.beta
    p, l_ck = class_stats(ce.float(), z)
    l_imb_bb = imbalance_loss(p, l_ck, alpha.detach(), beta.detach())
    l_imb_mod = imbalance_loss(p, l_ck.detach(), alpha, beta)
    inputs = torch.stack([lam_r * l_r.detach().float(), lam_c * l_imb_bb.detach()])
    props = batch_proportions(z) if weighting.use_proportions else None
    w = weighting(inputs, props)
    backbone = lam_r * w[0].detach() * l_r.float() + lam_c * w[1].detach() * l_imb_bb
    module = lam_r * w[0] * l_r.detach().float() + lam_c * w[1] * l_imb_mod
    logs = {
        "l_imb": l_imb_bb.detach(),
        "w_r": w[0].detach(),
        "w_c": w[1].detach(),
        "lambda_r": lam_r,
        "lambda_c": lam_c,
        "alpha": alpha.detach(),
        "beta": beta.detach(),
    }
    return backbone + module, logs
