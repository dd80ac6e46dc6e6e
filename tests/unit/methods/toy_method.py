"""A tiny, complete method for the registry and contract tests: linear regression of a
noisy linear target, with an optional head the loss never uses (a contract fault)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import torch
from torch import nn
from torch.utils.data import TensorDataset

from adaptune.data import fingerprint
from adaptune.method import Method, Mode, Optimizers, Splits


@dataclass(frozen=True)
class ToyConfig:
    lr: float = 0.05
    unused_head: bool = False  # True: a parameter no gradient reaches
    batch_size: int = 8
    epochs: int = 2
    seed: int = 0


def build_data(cfg: ToyConfig, data: Any, cache_dir: str | None = None) -> Splits:
    gen = torch.Generator().manual_seed(data.seed)
    x = torch.randn(data.n_train, 3, generator=gen)
    y = x @ torch.tensor([1.0, -2.0, 0.5]) + 0.1 * torch.randn(data.n_train, generator=gen)
    cut = [int(data.n_train * 0.6), int(data.n_train * 0.8)]
    parts = [TensorDataset(x[a:b], y[a:b]) for a, b in zip([0, *cut], [*cut, None], strict=True)]
    sizes = {f"n_{k}": len(p) for k, p in zip(("train", "val", "test"), parts, strict=True)}
    info = {"fingerprint": fingerprint(["toy", data.n_train, data.seed]), **sizes}
    return Splits(parts[0], parts[1], parts[2], info)


class Toy(nn.Module):
    def __init__(self, unused: bool) -> None:
        super().__init__()
        self.linear = nn.Linear(3, 1)
        self.unused = nn.Linear(3, 1) if unused else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(x).squeeze(-1)


def build_model(cfg: ToyConfig, info: dict[str, Any]) -> nn.Module:
    return Toy(cfg.unused_head)


def build_optimizers(model: nn.Module, cfg: ToyConfig, total_steps: int) -> Optimizers:
    return Optimizers([torch.optim.SGD(model.parameters(), lr=cfg.lr)])


def train_step(model: nn.Module, batch: Any, opt: Optimizers, cfg: ToyConfig) -> dict[str, Any]:
    x, y = batch
    loss = nn.functional.mse_loss(model(x), y)
    opt.zero_grad()
    loss.backward()
    opt.step()
    return {"loss": loss.detach()}


def evaluate(model: nn.Module, loader: Any, cfg: ToyConfig) -> dict[str, float]:
    with torch.no_grad():
        err = torch.cat([(model(x) - y) ** 2 for x, y in loader])
    return {"val/mse": float(err.mean()), "val/acc": float((err < 0.1).float().mean())}


def save_model(model: nn.Module, cfg: ToyConfig, info: dict[str, Any], path: str) -> None:
    torch.save(model.state_dict(), Path(path) / "weights.pt")
    (Path(path) / "config.json").write_text(json.dumps({"unused_head": cfg.unused_head}))


def load_predictor(path: str) -> Any:
    model = Toy(json.loads((Path(path) / "config.json").read_text())["unused_head"])
    model.load_state_dict(torch.load(Path(path) / "weights.pt", weights_only=True))

    def predict(rows: Any) -> pd.DataFrame:
        with torch.no_grad():
            return pd.DataFrame({"y": model(torch.tensor(rows, dtype=torch.float32)).tolist()})

    return predict


TOY = Method(
    name="toy",
    config_cls=ToyConfig,
    build_data=build_data,
    build_model=build_model,
    build_optimizers=build_optimizers,
    train_step=train_step,
    evaluate=evaluate,
    save_model=save_model,
    load_predictor=load_predictor,
    metric="val/mse",
    mode=Mode.MIN,
    metrics=("val/mse", "val/acc"),
    input_example=[[0.1, 0.2, 0.3]],
)
