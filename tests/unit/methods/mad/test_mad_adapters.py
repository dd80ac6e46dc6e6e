"""MAD's adapters: identity at init, parameter counts, where gradients go, domain isolation."""

from __future__ import annotations

import copy
import re

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from adaptune.methods.mad.adapters import (
    DomainBatchNorm2d,
    ModulatedConv2d,
    adapt_model,
    adapter_params,
    set_domain,
)
from adaptune.methods.mad.config import MADConfig
from adaptune.methods.mad.model import MADNet, ResNet26

# A domain-specific tensor's name ends "delta.<d>" (or beta/gamma/weights), or holds
# "bns.<d>." / starts "heads.<d>."; anything else belongs to the shared base.
_DOMAIN = re.compile(r"(?:delta|beta|gamma|weights)\.(\d+)$|(?:bns|heads)\.(\d+)\.")


def _domain_of(name: str) -> int | None:
    m = _DOMAIN.search(name)
    return None if m is None else int(m.group(1) or m.group(2))


def _trained_looking_base(width: int = 4) -> ResNet26:
    """A ResNet-26 with non-trivial BN statistics, so identity checks mean something."""
    torch.manual_seed(0)
    base = ResNet26(width)
    for m in base.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 2.0)
            m.weight.data.uniform_(0.5, 1.5)
    return base.eval()


@pytest.mark.parametrize("mode,rank", [("mad", 0), ("mad", 4), ("finetune", 0), ("bn_head", 0)])
def test_adapted_network_at_init_equals_the_base(mode: str, rank: int) -> None:
    base = _trained_looking_base()
    x = torch.randn(3, 3, 16, 16)
    expected = base.features(x)
    adapted = adapt_model(copy.deepcopy(base), 3, mode, rank, init_noise=0.5).eval()
    for d in range(3):
        set_domain(adapted, d)
        torch.testing.assert_close(adapted.features(x), expected, rtol=0, atol=1e-6)


def test_adapter_scales_filter_weights_not_activations() -> None:
    # y = conv2d(x, W * alpha[:, :, None, None]): a per-(m, n) kernel scale that an
    # output-channel scaling of the activations could not express.
    conv = nn.Conv2d(3, 2, 3, padding=1, bias=False)
    mod = ModulatedConv2d(conv, 1, "mad", rank=0)
    alpha = torch.rand(2, 3) + 0.5
    mod.delta[0].data = alpha - 1
    x = torch.randn(1, 3, 5, 5)
    expected = F.conv2d(x, conv.weight * alpha[:, :, None, None], padding=1)
    torch.testing.assert_close(mod(x), expected)


@pytest.mark.parametrize("rank", [1, 4, 36])
def test_factorised_adapter_has_rank_times_m_plus_n_parameters(rank: int) -> None:
    conv = nn.Conv2d(24, 40, 3)
    mod = ModulatedConv2d(conv, 2, "mad", rank=rank)
    assert mod.added_params() == rank * (40 + 24)
    assert sum(p.numel() for p in mod.parameters() if p.requires_grad) == 2 * rank * 64


def test_resnet26_adapter_budget_matches_the_paper() -> None:
    # METHODS.md: on ResNet-26's 25 3x3 convs full MAD is ~0.645 M parameters per
    # domain and I = 36 is ~0.251 M (the paper's "> 60 %" saving).
    full = adapter_params(adapt_model(ResNet26(32), 1, "mad", 0))
    rank36 = adapter_params(adapt_model(ResNet26(32), 1, "mad", 36))
    convs = [m for m in ResNet26(32).modules() if isinstance(m, nn.Conv2d)]
    assert len(convs) == 25 and all(c.kernel_size == (3, 3) for c in convs)
    assert full == 645_216 and rank36 == 251_244
    assert 1 - rank36 / full > 0.6


@pytest.mark.parametrize("mode,rank", [("mad", 0), ("mad", 8), ("bn_head", 0), ("finetune", 0)])
def test_gradients_reach_only_adapters_bn_and_heads(mode: str, rank: int) -> None:
    net = MADNet(ResNet26(4), 2, 10, MADConfig(mode=mode, rank=rank, init_noise=0.5))
    loss = F.cross_entropy(net(torch.randn(4, 3, 16, 16), 0), torch.tensor([0, 1, 2, 3]))
    loss.backward()
    for name, p in net.named_parameters():
        # Trainable exactly when domain-specific; the frozen base never gets a gradient.
        assert p.requires_grad == (_domain_of(name) is not None), name
        if _domain_of(name) is None:
            assert p.grad is None, name
    trained = [n for n, p in net.named_parameters() if p.grad is not None]
    assert any(n.startswith("heads.0.") for n in trained)
    if mode != "bn_head":
        assert any(".delta." in n or ".gamma." in n or ".weights." in n for n in trained)


def test_two_domains_never_share_adapter_state() -> None:
    net = MADNet(ResNet26(4), 2, 10, MADConfig(rank=4, init_noise=0.5))
    domain_params = {
        d: {id(p) for n, p in net.named_parameters() if _domain_of(n) == d} for d in (0, 1)
    }
    assert domain_params[0] and not domain_params[0] & domain_params[1]
    # A step on domain 0 leaves domain 1's adapters, BN statistics and head as they were.
    before = copy.deepcopy(net.state_dict())
    opt = torch.optim.SGD([p for p in net.parameters() if p.requires_grad], lr=0.5, momentum=0.9)
    for _ in range(2):
        opt.zero_grad(set_to_none=True)
        F.cross_entropy(net(torch.randn(4, 3, 16, 16), 0), torch.tensor([0, 1, 2, 3])).backward()
        opt.step()
    after = net.state_dict()
    changed = {k for k in after if not torch.equal(after[k], before[k])}
    assert any(".bns.0." in k for k in changed) and any(k.startswith("heads.0.") for k in changed)
    assert any(k.endswith("gamma.0") for k in changed)
    assert not [k for k in changed if _domain_of(k) != 0]


def test_domain_batchnorm_keeps_separate_running_statistics() -> None:
    bn = DomainBatchNorm2d(nn.BatchNorm2d(3), 2).train()
    bn.domain = 1
    bn(torch.randn(8, 3, 4, 4) + 5.0)
    assert torch.allclose(bn.bns[0].running_mean, torch.zeros(3))
    assert (bn.bns[1].running_mean > 0.1).all()


def test_factorised_adapter_columns_get_different_gradients() -> None:
    # METHODS.md: constant beta and gamma would give every column the same gradient and
    # alpha would stay rank 1; the residual form with random beta must not.
    torch.manual_seed(0)
    mod = ModulatedConv2d(nn.Conv2d(6, 8, 3), 1, "mad", rank=4, init_noise=0.5)
    mod(torch.randn(2, 6, 7, 7)).pow(2).sum().backward()
    grad = mod.gamma[0].grad
    assert grad is not None and torch.linalg.matrix_rank(grad) > 1
