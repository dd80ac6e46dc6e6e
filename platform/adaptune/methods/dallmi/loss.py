"""DALLMi's losses for one label, on logits (sigmoid outputs Phi_l = sigmoid(logit)).

    l_var = variational_loss(logits_unlabelled, logits_positive, form="norm")
    l_mix = mixup_loss(target_phi, logits_mixed, form="norm")

norm: L_var = mean_U Phi - ||Phi(P)||_2 ; L_mix = (||phi~|| - ||Phi(x~)||)^2.
log (VPU): L_var = log mean_U Phi - mean_P log Phi ; L_mix = mean (log phi~ - log Phi(x~))^2.
Log terms use logsigmoid / logsumexp so saturated outputs stay finite.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F


def variational_loss(
    logits_unlabelled: torch.Tensor, logits_positive: torch.Tensor, form: str = "norm"
) -> torch.Tensor:
    """The variational PU loss of one label from its unlabelled and positive logits."""
    if form == "norm":
        p_u, p_p = torch.sigmoid(logits_unlabelled), torch.sigmoid(logits_positive)
        return p_u.mean() - torch.linalg.vector_norm(p_p)
    if form == "log":
        log_u = F.logsigmoid(logits_unlabelled)
        log_mean_u = torch.logsumexp(log_u, dim=0) - math.log(log_u.numel())
        return log_mean_u - F.logsigmoid(logits_positive).mean()
    raise ValueError(f"unknown loss form '{form}'")


def mixup_target(mu: torch.Tensor, logits_unlabelled: torch.Tensor) -> torch.Tensor:
    """phi~ = mu + (1 - mu) * sg(Phi(x_u)): a mixed sample is at least mu positive."""
    return mu + (1.0 - mu) * torch.sigmoid(logits_unlabelled).detach()


def mixup_loss(
    target: torch.Tensor, logits_mixed: torch.Tensor, form: str = "norm"
) -> torch.Tensor:
    """The MixUp consistency penalty of one label over its mixed samples."""
    if form == "norm":
        norm_pred = torch.linalg.vector_norm(torch.sigmoid(logits_mixed))
        return (torch.linalg.vector_norm(target) - norm_pred) ** 2
    if form == "log":
        return ((torch.log(target) - F.logsigmoid(logits_mixed)) ** 2).mean()
    raise ValueError(f"unknown loss form '{form}'")
