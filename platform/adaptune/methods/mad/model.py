"""MAD's networks: the ResNet-26 of the Visual Decathlon, and the multi-domain MADNet.

    base = ResNet26(width=32)                   # 25 3x3 convs; full MAD ~0.645 M / domain
    net = MADNet(base, num_domains=6, num_classes=10, cfg=MADConfig(rank=36))
    logits = net(x, domain=3)

ResNet-26: conv3x3 3->w; three stages of 4 BasicBlocks (2w, 4w, 8w channels, stride 2
at each stage's first block); parameter-free shortcuts (AvgPool2d(2) + zero-channel
concat); BN after each conv; BN-ReLU, global average pool, linear.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
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
    """A frozen shared base (adapted in place) with one head per domain, each with its
    domain's number of classes. Domain `frozen` (the source the base was pretrained on)
    keeps the base as it is: its convs, its BatchNorm statistics and its classifier (the
    head is a frozen copy of base.fc). `names` are the domains' names (metrics, logs)."""

    def __init__(
        self,
        base: ResNet26,
        num_domains: int,
        num_classes: int | Sequence[int],
        cfg: MADConfig,
        frozen: int | None = None,
        names: Sequence[str] | None = None,
    ):
        super().__init__()
        rank = cfg.rank if cfg.mode == "mad" else 0
        adapt_model(base, num_domains, cfg.mode, rank, cfg.init_noise, cfg.factor_form, frozen)
        self.base, self.frozen = base, frozen
        self.names = list(names) if names is not None else [str(d) for d in range(num_domains)]
        classes = [num_classes] * num_domains if isinstance(num_classes, int) else num_classes
        if len(classes) != num_domains or len(self.names) != num_domains:
            raise ValueError(f"{num_domains} domains need as many class counts and names")
        self.heads = nn.ModuleList(nn.Linear(base.features_dim, int(c)) for c in classes)
        if frozen is not None:
            self.heads[frozen].load_state_dict(base.fc.state_dict())
            self.heads[frozen].requires_grad_(False)

    def forward(self, x: torch.Tensor, domain: int) -> torch.Tensor:
        set_domain(self.base, domain)
        return self.heads[domain](self.base.features(x))

    def params_per_domain(self) -> dict[str, int]:
        """Parameters one adapted domain adds: adapters (the paper's budget), BN, head
        (the largest head, when domains differ in classes)."""
        head = max(sum(p.numel() for p in h.parameters()) for h in self.heads)
        return {"adapter": adapter_params(self.base), "bn": bn_params(self.base), "head": head}


def unwrap(model: nn.Module) -> MADNet:
    """The MADNet inside a DDP wrapper (Ray Train's prepare_model), or itself."""
    inner = getattr(model, "module", model)
    assert isinstance(inner, MADNet), type(inner)
    return inner


def pretrain_base(
    x: torch.Tensor, y: torch.Tensor, cfg: MADConfig, num_classes: int
) -> dict[str, torch.Tensor]:
    """Train a ResNet-26 on the source domain's tensors (SGD, cosine); its state dict."""
    gen = torch.Generator().manual_seed(cfg.seed)
    steps = max(1, len(x) // cfg.batch_size)

    def epoch() -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        order = torch.randperm(len(x), generator=gen)
        for i in range(steps):
            idx = order[i * cfg.batch_size : (i + 1) * cfg.batch_size]
            yield x[idx], y[idx]

    return train_base(epoch, steps, cfg, num_classes)


def train_base(
    epoch: Callable[[], Iterable[tuple[torch.Tensor, torch.Tensor]]],
    steps_per_epoch: int,
    cfg: MADConfig,
    num_classes: int,
    device: str = "cpu",
) -> dict[str, torch.Tensor]:
    """A ResNet-26 trained from scratch on the batches `epoch()` yields, pretrain_epochs
    times (SGD, cosine); its state dict, on the CPU."""
    torch.manual_seed(cfg.seed)
    net = ResNet26(cfg.width, num_classes).to(device)
    opt = torch.optim.SGD(net.parameters(), lr=cfg.pretrain_lr, momentum=0.9, weight_decay=5e-4)
    total = max(1, steps_per_epoch * cfg.pretrain_epochs)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, total)
    net.train()
    for _ in range(cfg.pretrain_epochs):
        for xb, yb in epoch():
            loss = F.cross_entropy(net(xb.to(device)), yb.to(device))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
    return {k: v.detach().cpu().clone() for k, v in net.state_dict().items()}


def read_checkpoint(path: str) -> dict[str, torch.Tensor]:
    """A ResNet-26 state dict saved with torch.save (weights only: no code runs); a
    {"state_dict": ...} wrapper and DDP's "module." prefixes are taken off."""
    state = torch.load(path, map_location="cpu", weights_only=True)
    if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
        state = state["state_dict"]
    if not isinstance(state, dict):
        raise ValueError(f"{path} holds a {type(state).__name__}, not a state dict")
    return {str(k).removeprefix("module."): v for k, v in state.items()}


def checkpoint_problem(path: str, width: int, num_classes: int | None) -> str | None:
    """Why the checkpoint at `path` cannot start the base (ResNet-26 of `width`, its fc
    of `num_classes` when the source domain uses it): the first key that differs."""
    try:
        state = read_checkpoint(path)
    except Exception as e:  # torch raises many kinds on a file that is not a checkpoint
        return f"{path}: not a readable torch state dict ({type(e).__name__}: {e})"
    fc = state.get("fc.weight")
    classes = num_classes or (int(fc.shape[0]) if isinstance(fc, torch.Tensor) else 10)
    with torch.device("meta"):
        want = {k: tuple(v.shape) for k, v in ResNet26(width, classes).state_dict().items()}
    for key, shape in want.items():
        got = state.get(key)
        if not isinstance(got, torch.Tensor):
            return f"{path} has no '{key}' (a ResNet-26 of width {width} expects {shape})"
        if tuple(got.shape) != shape:
            hint = ""
            conv1 = state.get("conv1.weight")
            if isinstance(conv1, torch.Tensor) and conv1.shape[0] != width:
                hint = f"; its conv1 has {conv1.shape[0]} filters: set fixed.width to that"
            return (
                f"{path}: '{key}' has shape {tuple(got.shape)}, the model (width {width}, "
                f"{classes} classes) expects {shape}{hint}"
            )
    extra = sorted(set(state) - set(want))
    if extra:
        return f"{path} has '{extra[0]}', which the ResNet-26 does not ({len(extra)} such keys)"
    return None


def build_model(cfg: MADConfig, data_info: dict[str, Any]) -> MADNet:
    """The pretrained base from data_info["base_state"], adapted per cfg.mode, one head of
    data_info["classes"][d] classes per domain (every one num_classes when absent)."""
    torch.manual_seed(cfg.seed)
    base = ResNet26(cfg.width, data_info["num_classes"])
    base.load_state_dict(data_info["base_state"])
    domains = list(data_info["domains"])
    classes = data_info.get("classes", data_info["num_classes"])
    frozen = data_info.get("source_index", source_index(domains))
    return MADNet(base, len(domains), classes, cfg, frozen, domains)
