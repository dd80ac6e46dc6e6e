"""Modulation adapters: per-domain multiplicative filter scaling on a frozen base CNN.

    net = adapt_model(resnet, num_domains=6, mode="mad", rank=36)   # in place
    set_domain(net, 2); logits = net(x)                            # domain 2's weights

For a conv with weight W (M out x N in x k x k) domain d's filters are
W_d[m, n] = alpha_d[m, n] * W[m, n] (one scale per kernel, shared over its k x k taps),
applied to the weights, not the activations, so one frozen base serves every domain.
alpha_d = 1 + delta_d (full, M*N parameters) or 1 + beta_d gamma_d^T (rank I,
I*(M+N) parameters; gamma = 0 and beta random so it starts at the identity yet every
column gets its own gradient). Storing the offset from 1 makes plain weight decay
pull alpha toward 1, as the paper asks. Every BatchNorm becomes one per domain.
"""

from __future__ import annotations

import torch
from torch import nn

MODES = ("mad", "bn_head", "finetune")


class ModulatedConv2d(nn.Module):
    """A frozen nn.Conv2d with one adapter (or, in finetune mode, one weight) per domain."""

    def __init__(
        self, conv: nn.Conv2d, num_domains: int, mode: str, rank: int = 0, init_noise: float = 0.1
    ):
        super().__init__()
        self.conv = conv.requires_grad_(False)
        self.mode, self.rank, self.num_domains, self.domain = mode, rank, num_domains, 0
        m, n = conv.out_channels, conv.in_channels // conv.groups
        self.delta = nn.ParameterList()
        self.beta = nn.ParameterList()
        self.gamma = nn.ParameterList()
        self.weights = nn.ParameterList()
        for _ in range(num_domains):  # separate tensors: domains never share state
            if mode == "finetune":
                self.weights.append(nn.Parameter(conv.weight.detach().clone()))
            elif mode == "mad" and rank == 0:
                self.delta.append(nn.Parameter(torch.zeros(m, n)))
            elif mode == "mad":
                self.beta.append(nn.Parameter(torch.randn(m, rank) * init_noise))
                self.gamma.append(nn.Parameter(torch.zeros(n, rank)))

    def alpha(self, d: int) -> torch.Tensor:
        """Domain d's M x N filter scales (all ones outside mad mode)."""
        w = self.conv.weight
        if self.mode != "mad":
            return torch.ones(w.shape[:2], device=w.device)
        if self.rank == 0:
            return 1.0 + self.delta[d]
        return 1.0 + self.beta[d] @ self.gamma[d].T

    def weight_for(self, d: int) -> torch.Tensor:
        if self.mode == "finetune":
            return self.weights[d]
        if self.mode == "bn_head":
            return self.conv.weight
        return self.conv.weight * self.alpha(d)[:, :, None, None]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv._conv_forward(x, self.weight_for(self.domain), self.conv.bias)

    def added_params(self) -> int:
        """Trainable parameters this layer adds for one domain."""
        own = [*self.delta, *self.beta, *self.gamma, *self.weights]
        return sum(p.numel() for p in own) // self.num_domains


class DomainBatchNorm2d(nn.Module):
    """One BatchNorm2d (affine and running statistics) per domain, copied from the base's."""

    def __init__(self, bn: nn.BatchNorm2d, num_domains: int):
        super().__init__()
        self.domain = 0
        self.bns = nn.ModuleList()
        for _ in range(num_domains):
            copy = nn.BatchNorm2d(bn.num_features, bn.eps, bn.momentum, bn.affine)
            copy.load_state_dict(bn.state_dict())
            self.bns.append(copy.requires_grad_(True))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.bns[self.domain](x)


def adapt_model(
    net: nn.Module, num_domains: int, mode: str = "mad", rank: int = 0, init_noise: float = 0.1
) -> nn.Module:
    """Freeze `net`, wrap every Conv2d (except in bn_head mode) and split every BatchNorm2d.

    Works on any network built from nn.Conv2d / nn.BatchNorm2d (a ResNet-26, a
    torchvision ResNet or DenseNet); modules are swapped in place and `net` returned.
    """
    if mode not in MODES:
        raise ValueError(f"unknown mode '{mode}'; valid: {', '.join(MODES)}")
    net.requires_grad_(False)
    _swap(net, num_domains, mode, rank, init_noise)
    return net


def _swap(module: nn.Module, num_domains: int, mode: str, rank: int, noise: float) -> None:
    for name, child in module.named_children():
        if isinstance(child, nn.Conv2d) and mode != "bn_head":
            setattr(module, name, ModulatedConv2d(child, num_domains, mode, rank, noise))
        elif isinstance(child, nn.BatchNorm2d):
            setattr(module, name, DomainBatchNorm2d(child, num_domains))
        else:
            _swap(child, num_domains, mode, rank, noise)


def set_domain(net: nn.Module, domain: int) -> None:
    """Route every adapted layer of `net` to `domain`'s adapters and BatchNorm."""
    for m in net.modules():
        if isinstance(m, ModulatedConv2d | DomainBatchNorm2d):
            m.domain = domain


def adapter_params(net: nn.Module) -> int:
    """Conv parameters one domain adds: sum of M*N (full), I*(M+N) (rank I), M*N*k*k."""
    return sum(m.added_params() for m in net.modules() if isinstance(m, ModulatedConv2d))


def bn_params(net: nn.Module) -> int:
    """BatchNorm affine parameters one domain owns."""
    bns = [m.bns[0] for m in net.modules() if isinstance(m, DomainBatchNorm2d)]
    return sum(p.numel() for bn in bns for p in bn.parameters())


__all__ = [
    "DomainBatchNorm2d",
    "ModulatedConv2d",
    "adapt_model",
    "adapter_params",
    "bn_params",
    "set_domain",
]
