"""MAD against its rivals: residual adapters at matched parameters, both factor forms,
the untouched source domain, and the Decathlon score's fine-tuning reference."""

from __future__ import annotations

import copy

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from adaptune.methods.mad.adapters import ModulatedConv2d, adapt_model, adapter_params
from adaptune.methods.mad.compare import arm_rows
from adaptune.methods.mad.config import DOMAINS, MADConfig
from adaptune.methods.mad.model import MADNet, ResNet26


def test_residual_adapters_add_exactly_full_mads_parameters() -> None:
    # Rebuffi's parallel 1x1 conv is M x N per conv: the same budget as full MAD, the
    # paper's 645,216 per domain on the width-32 ResNet-26.
    counts = {}
    for mode in ("residual", "mad"):
        net = adapt_model(ResNet26(32), 2, mode, 0)
        counts[mode] = adapter_params(net)
    assert counts["residual"] == counts["mad"] == 645_216


def test_residual_adapter_is_a_parallel_1x1_conv() -> None:
    conv = nn.Conv2d(6, 8, 3, stride=2, padding=1, bias=False)
    mod = ModulatedConv2d(conv, 2, "residual")
    x = torch.randn(2, 6, 9, 9)
    assert torch.allclose(mod(x), conv(x))  # zero at initialisation: the base itself
    with torch.no_grad():
        mod.delta[1].normal_()
    mod.domain = 1
    expected = conv(x) + F.conv2d(x, mod.delta[1][:, :, None, None], stride=2)
    assert torch.allclose(mod(x), expected, atol=1e-5)
    assert mod.added_params() == 6 * 8


@pytest.mark.parametrize("form", ["residual", "product"])
def test_both_factor_forms_cost_rank_times_m_plus_n_and_start_near_identity(form: str) -> None:
    mod = ModulatedConv2d(nn.Conv2d(24, 40, 3), 2, "mad", rank=4, init_noise=0.0, factor_form=form)
    assert mod.added_params() == 4 * (40 + 24)
    assert torch.allclose(mod.alpha(0), torch.ones(40, 24), atol=1e-6)
    noisy = ModulatedConv2d(
        nn.Conv2d(24, 40, 3), 1, "mad", rank=4, init_noise=0.3, factor_form=form
    )
    alpha = noisy.alpha(0).detach()
    if form == "residual":  # gamma = 0: exactly the identity; beta's noise breaks symmetry
        assert torch.equal(alpha, torch.ones(40, 24)) and noisy.beta[0].abs().sum() > 0
    else:  # both factors 1/sqrt(I) plus noise: near 1, not equal, rank <= I
        assert torch.linalg.matrix_rank(alpha) <= 4
        assert 1e-3 < (alpha - 1).abs().mean() < 0.5


def test_product_form_is_beta_gamma_and_residual_form_an_offset_from_one() -> None:
    for form, offset in (("product", 0.0), ("residual", 1.0)):
        mod = ModulatedConv2d(nn.Conv2d(3, 5, 3), 1, "mad", rank=2, factor_form=form)
        with torch.no_grad():
            mod.beta[0].normal_()
            mod.gamma[0].normal_()
        assert torch.allclose(mod.alpha(0), offset + mod.beta[0] @ mod.gamma[0].T)
    with pytest.raises(ValueError):
        adapt_model(ResNet26(4), 2, "mad", 4, factor_form="sum")


@pytest.mark.parametrize("mode", ["mad", "residual", "finetune", "bn_head"])
def test_source_domain_uses_the_base_unchanged(mode: str) -> None:
    base = ResNet26(4).eval()
    with torch.no_grad():
        for m in base.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.normal_()
                m.running_var.uniform_(0.5, 2.0)
    x = torch.randn(3, 3, 16, 16)
    want = base(x)
    net = MADNet(copy.deepcopy(base), 3, 10, MADConfig(mode=mode, rank=0), frozen=0)
    net.train()  # even in train mode: the source's BatchNorm keeps the base's statistics
    assert torch.allclose(net(x, 0), want, atol=1e-5)
    source = [
        n
        for n, p in net.named_parameters()
        if p.requires_grad
        and (".0." in n.split("bns")[-1] if "bns" in n else n.startswith("heads.0."))
    ]
    assert not source
    loss = net(x, 1).sum()
    loss.backward()  # domain 1 still trains
    assert net.heads[1].weight.grad is not None


def test_train_split_holds_no_source_domain_example(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from adaptune.job.spec import DataSpec
    from adaptune.methods.mad import METHOD

    data = DataSpec(
        source="digits-decathlon", n_train=200, seed=0, options={"size": 16, "per_class": 3}
    )
    cfg = MADConfig(width=4, pretrain_epochs=0)
    train, val, _test, _info = METHOD.build_data(cfg, data, str(tmp_path))
    domains = train.tensors[2]
    assert 0 not in domains.tolist() and set(domains.tolist()) == set(range(1, len(DOMAINS)))
    per_domain = torch.bincount(domains)[1:]
    assert (per_domain <= 10 * 3).all()  # at most per_class per class in each target domain
    assert set(val.tensors[2].tolist()) == set(range(len(DOMAINS)))  # every domain scored


def _row(errors: list[float], params: float) -> dict[str, float]:
    row = {f"test/acc/{d}": 1.0 - e for d, e in zip(DOMAINS, errors, strict=True)}
    return {**row, "test/acc": 1.0 - sum(errors) / len(errors), "test/params_adapter": params}


def test_decathlon_score_reference_is_the_finetune_arm() -> None:
    ft = [_row([0.10] * 6, 1e5), _row([0.12] * 6, 1e5), _row([0.08] * 6, 1e5)]
    better = [_row([0.05] * 6, 1e3)] * 3
    worse = [_row([0.25] * 6, 0.0)] * 3  # E >= E_max = 2 x 0.10 on every domain: 0 points
    rows = {r["arm"]: r for r in arm_rows({"finetune": ft, "mad": better, "bn": worse}, "finetune")}
    # Against the fine-tune arm's mean errors (0.10), E_max = 0.20 per domain.
    assert rows["mad"]["score"] == pytest.approx(6 * 1000 * (0.20 - 0.05) ** 2 / 0.20**2)
    assert rows["bn"]["score"] == pytest.approx(0.0)
    # Fine-tuning scores about 250 a domain (exactly 250 for its own mean errors).
    assert rows["finetune"]["score"] == pytest.approx(6 * 250, rel=0.05)
    assert rows["mad"]["params"] == 1e3 and rows["mad"]["seeds"] == 3
    assert "score" not in arm_rows({"mad": better}, None)[0]
