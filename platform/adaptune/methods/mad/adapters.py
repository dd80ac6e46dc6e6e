"""Modulation adapters: per-domain multiplicative filter scaling on a frozen base CNN,
and the residual adapters of Rebuffi et al. (2018) as the rival adapter family.

    net = adapt_model(resnet, num_domains=6, mode="mad", rank=36)   # in place
    set_domain(net, 2); logits = net(x)                            # domain 2's weights

For a conv with weight W (M out x N in x k x k) domain d's filters are
W_d[m, n] = alpha_d[m, n] * W[m, n] (one scale per kernel, shared over its k x k taps),
applied to the weights, not the activations, so one frozen base serves every domain.
alpha_d is
- full: 1 + delta_d (M*N parameters);
- rank I, factor_form "residual": 1 + beta_d gamma_d^T, a rank-I offset from the
  identity (gamma = 0, beta random: it starts at 1 yet every column gets its own
  gradient; plain weight decay pulls alpha toward 1);
- rank I, factor_form "product": beta_d gamma_d^T, the paper's rank-<= I form, both
  factors 1/sqrt(I) plus noise (alpha ~ 1 at start; weight decay pulls it toward 0).
Both rank-I forms cost I*(M+N) per conv. mode "residual": a parallel 1x1 conv per domain
(y = W * x + A_d * x, A_d M x N, zero at start), M*N per conv: the same added parameters
as full MAD. Every BatchNorm becomes one per domain. A `frozen` domain (the source the
base was pretrained on: the Decathlon rule) uses the base unchanged: no adapter, its
BatchNorm frozen in eval mode.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

MODES = ("mad", "bn_head", "finetune", "residual")
FORMS = ("residual", "product")


class ModulatedConv2d(nn.Module):
    """A frozen nn.Conv2d with one adapter (or, in finetune mode, one weight) per domain."""

    def __init__(
        self,
        conv: nn.Conv2d,
        num_domains: int,
        mode: str,
        rank: int = 0,
        init_noise: float = 0.1,
        factor_form: str = "residual",
        frozen: int | None = None,
    ):
        super().__init__()
        self.conv = conv.requires_grad_(False)
        self.mode, self.rank, self.num_domains, self.domain = mode, rank, num_domains, 0
        self.factor_form, self.frozen = factor_form, frozen
        m, n = conv.out_channels, conv.in_channels // conv.groups
        if mode == "residual" and (
            conv.groups != 1
            or conv.dilation != (1, 1)
            or conv.padding != tuple(k // 2 for k in conv.kernel_size)
        ):
            raise ValueError("residual adapters need an ungrouped, undilated 'same' conv")
        self.delta = nn.ParameterList()
        self.beta = nn.ParameterList()
        self.gamma = nn.ParameterList()
        self.weights = nn.ParameterList()
        for _ in range(num_domains):  # separate tensors: domains never share state
            if mode == "finetune":
                self.weights.append(nn.Parameter(conv.weight.detach().clone()))
            elif mode == "residual" or (mode == "mad" and rank == 0):
                self.delta.append(nn.Parameter(torch.zeros(m, n)))
            elif mode == "mad" and factor_form == "product":
                scale = rank**-0.5
                self.beta.append(nn.Parameter(scale + torch.randn(m, rank) * init_noise * scale))
                self.gamma.append(nn.Parameter(scale + torch.randn(n, rank) * init_noise * scale))
            elif mode == "mad":
                self.beta.append(nn.Parameter(torch.randn(m, rank) * init_noise))
                self.gamma.append(nn.Parameter(torch.zeros(n, rank)))
        if frozen is not None:
            for p in self.own(frozen):
                p.requires_grad_(False)

    def own(self, d: int) -> list[nn.Parameter]:
        """Domain d's trainable tensors."""
        return [ps[d] for ps in (self.delta, self.beta, self.gamma, self.weights) if len(ps)]

    def alpha(self, d: int) -> torch.Tensor:
        """Domain d's M x N filter scales (all ones outside mad mode)."""
        w = self.conv.weight
        if self.mode != "mad" or d == self.frozen:
            return torch.ones(w.shape[:2], device=w.device)
        if self.rank == 0:
            return 1.0 + self.delta[d]
        product = self.beta[d] @ self.gamma[d].T
        return product if self.factor_form == "product" else 1.0 + product

    def weight_for(self, d: int) -> torch.Tensor:
        if d == self.frozen or self.mode == "bn_head":
            return self.conv.weight
        if self.mode == "finetune":
            return self.weights[d]
        if self.mode == "residual":  # a parallel 1x1 conv == its kernel at the centre tap
            kh, kw = self.conv.kernel_size
            pad = (kw // 2, kw // 2, kh // 2, kh // 2)
            return self.conv.weight + F.pad(self.delta[d][:, :, None, None], pad)
        return self.conv.weight * self.alpha(d)[:, :, None, None]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv._conv_forward(x, self.weight_for(self.domain), self.conv.bias)

    def added_params(self) -> int:
        """Trainable parameters this layer adds for one (adapted) domain."""
        d = 1 if self.frozen == 0 and self.num_domains > 1 else 0
        return sum(p.numel() for p in self.own(d))


class DomainBatchNorm2d(nn.Module):
    """One BatchNorm2d (affine and running statistics) per domain, copied from the base's;
    the `frozen` domain's copy is the base's as it is (eval mode, no gradient)."""

    def __init__(self, bn: nn.BatchNorm2d, num_domains: int, frozen: int | None = None):
        super().__init__()
        self.domain, self.frozen = 0, frozen
        self.bns = nn.ModuleList()
        for d in range(num_domains):
            copy = nn.BatchNorm2d(bn.num_features, bn.eps, bn.momentum, bn.affine)
            copy.load_state_dict(bn.state_dict())
            self.bns.append(copy.requires_grad_(d != frozen))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        bn = self.bns[self.domain]
        assert isinstance(bn, nn.BatchNorm2d)
        if self.domain == self.frozen:
            return F.batch_norm(
                x, bn.running_mean, bn.running_var, bn.weight, bn.bias, False, 0.0, bn.eps
            )
        return bn(x)


def adapt_model(
    net: nn.Module,
    num_domains: int,
    mode: str = "mad",
    rank: int = 0,
    init_noise: float = 0.1,
    factor_form: str = "residual",
    frozen: int | None = None,
) -> nn.Module:
    """Freeze `net`, wrap every Conv2d (except in bn_head mode) and split every BatchNorm2d.

    Works on any network built from nn.Conv2d / nn.BatchNorm2d (a ResNet-26, a
    torchvision ResNet or DenseNet); modules are swapped in place and `net` returned.
    Domain `frozen` (if given) keeps the base unchanged.
    """
    if mode not in MODES:
        raise ValueError(f"unknown mode '{mode}'; valid: {', '.join(MODES)}")
    if factor_form not in FORMS:
        raise ValueError(f"unknown factor_form '{factor_form}'; valid: {', '.join(FORMS)}")
    net.requires_grad_(False)
    _swap(net, num_domains, (mode, rank, init_noise, factor_form), frozen)
    return net


def _swap(
    module: nn.Module, num_domains: int, how: tuple[str, int, float, str], frozen: int | None
) -> None:
    for name, child in module.named_children():
        if isinstance(child, nn.Conv2d) and how[0] != "bn_head":
            setattr(module, name, ModulatedConv2d(child, num_domains, *how, frozen))
        elif isinstance(child, nn.BatchNorm2d):
            setattr(module, name, DomainBatchNorm2d(child, num_domains, frozen))
        else:
            _swap(child, num_domains, how, frozen)


def set_domain(net: nn.Module, domain: int) -> None:
    """Route every adapted layer of `net` to `domain`'s adapters and BatchNorm."""
    for m in net.modules():
        if isinstance(m, ModulatedConv2d | DomainBatchNorm2d):
            m.domain = domain


def adapter_params(net: nn.Module) -> int:
    """Conv parameters one domain adds: sum of M*N (full MAD, residual adapters),
    I*(M+N) (rank I, either form), M*N*k*k (finetune)."""
    return sum(m.added_params() for m in net.modules() if isinstance(m, ModulatedConv2d))


def bn_params(net: nn.Module) -> int:
    """BatchNorm affine parameters one domain owns."""
    bns = [m.bns[-1] for m in net.modules() if isinstance(m, DomainBatchNorm2d)]
    return sum(p.numel() for bn in bns for p in bn.parameters())


__all__ = [
    "DomainBatchNorm2d",
    "ModulatedConv2d",
    "adapt_model",
    "adapter_params",
    "bn_params",
    "set_domain",
]
