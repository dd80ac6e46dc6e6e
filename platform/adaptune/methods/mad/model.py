"""MAD's networks: the ResNet-26 of the Visual Decathlon, and the multi-domain MADNet.

    base = ResNet26(width=32)                   # 25 3x3 convs; full MAD ~0.645 M / domain
    net = MADNet(base, num_domains=6, num_classes=10, cfg=MADConfig(rank=36))
    logits = net(x, domain=3)

ResNet-26: conv3x3 3->w; three stages of 4 BasicBlocks (2w, 4w, 8w channels, stride 2
at each stage's first block); parameter-free shortcuts (AvgPool2d(2) + zero-channel
concat); BN after each conv; BN-ReLU, global average pool, linear.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from .adapters import adapt_model, adapter_params, bn_params, set_domain
from .config import SOURCE, MADConfig


def conv3x3(c_in: int, c_out: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=False)


class Shortcut(nn.Module):
    """Parameter-free: average-pool to the new resolution, zero-pad the new channels."""

    def __init__(self, c_in: int, c_out: int, stride: int):
        super().__init__()
        self.pad, self.stride = c_out - c_in, stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.stride > 1:
            x = F.avg_pool2d(x, self.stride)
        return F.pad(x, (0, 0, 0, 0, 0, self.pad)) if self.pad else x


class BasicBlock(nn.Module):
    def __init__(self, c_in: int, c_out: int, stride: int):
        super().__init__()
        self.conv1, self.bn1 = conv3x3(c_in, c_out, stride), nn.BatchNorm2d(c_out)
        self.conv2, self.bn2 = conv3x3(c_out, c_out), nn.BatchNorm2d(c_out)
        self.shortcut = Shortcut(c_in, c_out, stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.relu(self.bn1(self.conv1(x)))
        return F.relu(self.bn2(self.conv2(y)) + self.shortcut(x))


class ResNet26(nn.Module):
    def __init__(self, width: int = 32, num_classes: int = 10):
        super().__init__()
        self.conv1, self.bn1 = conv3x3(3, width), nn.BatchNorm2d(width)
        blocks: list[nn.Module] = []
        c_in = width
        for c_out in (2 * width, 4 * width, 8 * width):
            for i in range(4):
                blocks.append(BasicBlock(c_in, c_out, stride=2 if i == 0 else 1))
                c_in = c_out
        self.blocks = nn.Sequential(*blocks)
        self.bn_out = nn.BatchNorm2d(c_in)
        self.fc = nn.Linear(c_in, num_classes)
        self.features_dim = c_in

    def features(self, x: torch.Tensor) -> torch.Tensor:
        x = self.blocks(F.relu(self.bn1(self.conv1(x))))
        return F.relu(self.bn_out(x)).mean(dim=(2, 3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.features(x))


def source_index(domains: list[str]) -> int | None:
    """The pretraining domain's index: it uses the base unchanged (the Decathlon rule)."""
    return domains.index(SOURCE) if SOURCE in domains else None


class MADNet(nn.Module):
    """A frozen shared base (adapted in place) with one head per domain. Domain `frozen`
    (the source the base was pretrained on) keeps the base as it is: its convs, its
    BatchNorm statistics and its classifier (the head is a frozen copy of base.fc)."""

    def __init__(
        self,
        base: ResNet26,
        num_domains: int,
        num_classes: int,
        cfg: MADConfig,
        frozen: int | None = None,
    ):
        super().__init__()
        rank = cfg.rank if cfg.mode == "mad" else 0
        adapt_model(base, num_domains, cfg.mode, rank, cfg.init_noise, cfg.factor_form, frozen)
        self.base, self.frozen = base, frozen
        self.heads = nn.ModuleList(
            nn.Linear(base.features_dim, num_classes) for _ in range(num_domains)
        )
        if frozen is not None:
            self.heads[frozen].load_state_dict(base.fc.state_dict())
            self.heads[frozen].requires_grad_(False)

    def forward(self, x: torch.Tensor, domain: int) -> torch.Tensor:
        set_domain(self.base, domain)
        return self.heads[domain](self.base.features(x))

    def params_per_domain(self) -> dict[str, int]:
        """Parameters one adapted domain adds: adapters (the paper's budget), BN, head."""
        head = sum(p.numel() for p in self.heads[0].parameters())
        return {"adapter": adapter_params(self.base), "bn": bn_params(self.base), "head": head}


def unwrap(model: nn.Module) -> MADNet:
    """The MADNet inside a DDP wrapper (Ray Train's prepare_model), or itself."""
    inner = getattr(model, "module", model)
    assert isinstance(inner, MADNet), type(inner)
    return inner


def pretrain_base(
    x: torch.Tensor, y: torch.Tensor, cfg: MADConfig, num_classes: int
) -> dict[str, torch.Tensor]:
    """Train a ResNet-26 on the source domain (SGD, cosine); its state dict."""
    gen = torch.Generator().manual_seed(cfg.seed)
    torch.manual_seed(cfg.seed)
    net = ResNet26(cfg.width, num_classes)
    steps_per_epoch = max(1, len(x) // cfg.batch_size)
    opt = torch.optim.SGD(net.parameters(), lr=cfg.pretrain_lr, momentum=0.9, weight_decay=5e-4)
    total = max(1, steps_per_epoch * cfg.pretrain_epochs)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, total)
    net.train()
    for _ in range(cfg.pretrain_epochs):
        order = torch.randperm(len(x), generator=gen)
        for i in range(steps_per_epoch):
            idx = order[i * cfg.batch_size : (i + 1) * cfg.batch_size]
            loss = F.cross_entropy(net(x[idx]), y[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
    return {k: v.detach().clone() for k, v in net.state_dict().items()}


def build_model(cfg: MADConfig, data_info: dict[str, Any]) -> MADNet:
    """The pretrained base from data_info["base_state"], adapted per cfg.mode."""
    torch.manual_seed(cfg.seed)
    base = ResNet26(cfg.width, data_info["num_classes"])
    base.load_state_dict(data_info["base_state"])
    domains = list(data_info["domains"])
    return MADNet(base, len(domains), data_info["num_classes"], cfg, source_index(domains))
