"""MAD on images from disk: the image sources' splits, read lazily in DataLoader workers.

    train, val, test, info = build_image_data(cfg, DataSpec(source="image-folder",
                                              path="data/office", options={"size": 64}), cache)

Each image is read with PIL, made RGB, resized to ``options.size`` a side (aspect not
kept) and normalised by its domain's mean and std per channel: ``options.mean`` /
``options.std`` when given, else measured on a seeded sample of at most STATS_SAMPLE
train images of the domain (cached). Splits: test is ``data.test_split`` or a seeded,
stratified ``test_fraction`` of train; val a seeded ``val_fraction`` of the rest; at most
``n_train`` train images a domain (seeded). ``options.num_workers`` processes decode
images for every loader (default: none on a CPU-only machine, up to 4 beside a GPU).
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from adaptune.data import cached, fingerprint
from adaptune.data.splits import carve, val_split
from adaptune.job.spec import DataSpec
from adaptune.method import Splits

from .config import MADConfig
from .images import IMAGE_SOURCES, Domain, LayoutError, list_domains, source_domain, stats_given
from .model import read_checkpoint, train_base

__all__ = ["ImageSet", "build_image_data", "loader_options"]

STATS_SAMPLE = 500  # train images a domain's mean and std are measured on


def read_image(path: str, size: int) -> torch.Tensor:
    """One image file as a (3, size, size) float tensor in [0, 1]."""
    from PIL import Image

    try:
        with Image.open(path) as img:
            rgb = img.convert("RGB").resize((size, size), Image.Resampling.BILINEAR)
    except (OSError, ValueError, SyntaxError) as e:
        raise ValueError(f"{path}: not a readable image ({type(e).__name__}: {e})") from None
    return torch.from_numpy(np.asarray(rgb, dtype=np.float32) / 255.0).permute(2, 0, 1)


class ImageSet(Dataset):
    """(image, label, domain) rows read from files; `domains` and `labels` are tensors,
    `loader_options` what every DataLoader over it passes (workers)."""

    def __init__(
        self,
        rows: list[tuple[str, int, int]],
        size: int,
        stats: list[tuple[tuple[float, ...], tuple[float, ...]]],
        loader_options: dict[str, Any],
    ):
        self.paths = [r[0] for r in rows]
        self.labels = torch.tensor([r[1] for r in rows], dtype=torch.long)
        self.domains = torch.tensor([r[2] for r in rows], dtype=torch.long)
        self.size = size
        self.mean = torch.tensor([m for m, _ in stats], dtype=torch.float32)[:, :, None, None]
        self.std = torch.tensor([s for _, s in stats], dtype=torch.float32)[:, :, None, None]
        self.loader_options = loader_options

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        d = int(self.domains[i])
        x = (read_image(self.paths[i], self.size) - self.mean[d]) / self.std[d]
        return x, self.labels[i], self.domains[i]


def loader_options(data: DataSpec) -> dict[str, Any]:
    """DataLoader keywords: options.num_workers decoding processes (default 0 without a
    GPU, else min(4, CPUs - 1)), kept across epochs, pinned memory beside a GPU."""
    gpu = torch.cuda.is_available()
    default = min(4, max(0, (os.cpu_count() or 1) - 1)) if gpu else 0
    workers = int(data.options.get("num_workers", default))
    out: dict[str, Any] = {"num_workers": workers, "pin_memory": gpu}
    if workers:
        out["persistent_workers"] = True
    return out


def _measure(
    rows: list[tuple[str, int]], size: int, seed: int, options: dict[str, Any]
) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Per-channel mean and std of a seeded sample of `rows` (read in the workers)."""
    rng = np.random.default_rng(seed)
    pick = rng.permutation(len(rows))[:STATS_SAMPLE]
    one = ImageSet([(rows[i][0], 0, 0) for i in pick], size, [((0.0,) * 3, (1.0,) * 3)], {})
    total, sq, n = torch.zeros(3, dtype=torch.float64), torch.zeros(3, dtype=torch.float64), 0
    for x, _, _ in DataLoader(one, batch_size=64, **options):
        total += x.sum(dim=(0, 2, 3)).double()
        sq += (x.double() ** 2).sum(dim=(0, 2, 3))
        n += x.shape[0] * x.shape[2] * x.shape[3]
    mean = total / n
    std = (sq / n - mean**2).clamp_min(1e-6).sqrt()
    return tuple(mean.tolist()), tuple(std.tolist())


def _rows_of(domains: list[Domain], data: DataSpec, source: int | None, per_class: Any) -> Any:
    """Per split, (path, class, domain) rows of every domain; the source domain's train
    rows apart (the base's pretraining set; the source itself never trains)."""
    train: list[tuple[str, int, int]] = []
    val: list[tuple[str, int, int]] = []
    test: list[tuple[str, int, int]] = []
    pretrain: list[tuple[str, int, int]] = []
    for k, dom in enumerate(domains):
        rows = dom.splits[data.split]
        rng = np.random.default_rng([data.seed, k])
        if len(rows) > data.n_train:
            rows = [rows[i] for i in np.sort(rng.permutation(len(rows))[: data.n_train])]
        if data.test_split:
            rest, held = rows, dom.splits[data.test_split]
        else:
            rest_i, test_i = carve([c for _, c in rows], data.test_fraction, data.seed + k)
            rest, held = [rows[i] for i in rest_i], [rows[i] for i in test_i]
        tr_i, va_i = val_split(len(rest), data)
        mine = [rest[i] for i in np.sort(tr_i)]
        if per_class and k != source:
            keep = []
            for c in range(len(dom.classes)):
                of_c = [r for r in mine if r[1] == c]
                keep += [of_c[i] for i in np.sort(rng.permutation(len(of_c))[: int(per_class)])]
            mine = keep
        (pretrain if k == source else train).extend((p, c, k) for p, c in mine)
        val.extend((rest[i][0], rest[i][1], k) for i in np.sort(va_i))
        test.extend((p, c, k) for p, c in held)
    return train, val, test, pretrain


def build_image_data(cfg: MADConfig, data: DataSpec, cache_dir: str | None = None) -> Splits:
    """The splits of an image source, the per-domain statistics and the base's weights:
    cfg.checkpoint's, else a base pretrained on the source domain's train images (cached)."""
    try:
        domains = list_domains(data)
        names = [d.name for d in domains]
        given = stats_given(data, names)
        source_name = source_domain(data, names, bool(cfg.checkpoint))
    except LayoutError as e:
        raise ValueError(f"{e.key}: {e}") from None
    source = names.index(source_name) if source_name else None
    size = int(data.options.get("size", 32))
    options = loader_options(data)
    train, val, test, pretrain = _rows_of(domains, data, source, data.options.get("per_class"))
    listing = [names, [[(p, c) for p, c in d.splits[data.split]] for d in domains]]
    dump = data.model_dump()  # how many processes decode changes nothing cached
    dump["options"] = {k: v for k, v in dump["options"].items() if k != "num_workers"}
    key = {"data": dump, "listing": fingerprint(listing)}

    def measure() -> dict[str, torch.Tensor]:
        stats = [_measure(d.splits[data.split], size, data.seed, options) for d in domains]
        return {
            "mean": torch.tensor([m for m, _ in stats]),
            "std": torch.tensor([s for _, s in stats]),
        }

    if given is None:
        got = cached(cache_dir, {**key, "stats": size}, measure)
        given = list(
            zip(map(tuple, got["mean"].tolist()), map(tuple, got["std"].tolist()), strict=True)
        )
    stats = given
    classes = [len(d.classes) for d in domains]
    if cfg.checkpoint:
        base = read_checkpoint(cfg.checkpoint)
    else:
        recipe = [cfg.width, cfg.pretrain_epochs, cfg.pretrain_lr, cfg.batch_size, cfg.seed]
        src = ImageSet(pretrain, size, stats, options)

        def pretrain_set() -> dict[str, torch.Tensor]:
            gen = torch.Generator().manual_seed(cfg.seed)
            loader = DataLoader(
                src,
                batch_size=cfg.batch_size,
                shuffle=True,
                drop_last=True,
                generator=gen,
                **options,
            )
            batches = lambda: ((x, y) for x, y, _ in loader)  # noqa: E731
            device = "cuda" if torch.cuda.is_available() else "cpu"
            return train_base(batches, max(1, len(loader)), cfg, classes[source or 0], device)

        base = cached(cache_dir, {**key, "base": recipe}, pretrain_set)
    sets = [ImageSet(rows, size, stats, options) for rows in (train, val, test)]
    info = {
        "fingerprint": fingerprint([key, size, stats, cfg.checkpoint]),
        "domains": names,
        "num_classes": int(base["fc.weight"].shape[0]),
        "classes": classes,
        "class_names": [d.classes for d in domains],
        "source_index": source,
        "mean": [list(m) for m, _ in stats],
        "std": [list(s) for _, s in stats],
        "size": size,
        "n_train": len(train),
        "n_val": len(val),
        "n_test": len(test),
        "base_state": base,
    }
    return Splits(sets[0], sets[1], sets[2], info)


def read_splits(data: DataSpec) -> dict[str, dict[str, list[Any]]]:
    """The splits build_image_data makes, for `adaptune data`: each image as the SHA-1 of
    its bytes (the same bytes in two splits are one image seen twice), its class and its
    domain; `pretrain` is the source domain's train share (the base's, without a
    fixed.checkpoint). The generated digits need none: their splits are disjoint by index."""
    if data.source not in IMAGE_SOURCES:
        raise ValueError(
            f"source '{data.source}' is generated inside adaptune, its train, val and test "
            "digits disjoint by construction; adaptune data reads the image sources"
        )
    try:
        domains = list_domains(data)
        names = [d.name for d in domains]
        first = source_domain(data, names, checkpoint=False)
    except LayoutError as e:
        raise ValueError(f"{e.key}: {e}") from None
    source = names.index(first) if first else None
    rows = _rows_of(domains, data, source, data.options.get("per_class"))

    def columns(split: list[tuple[str, int, int]]) -> dict[str, list[Any]]:
        return {
            "text": [
                f"image sha1 {hashlib.sha1(Path(p).read_bytes()).hexdigest()}" for p, _, _ in split
            ],
            "label": [domains[k].classes[c] for _, c, k in split],
            "domain": [names[k] for _, _, k in split],
        }

    out = {
        name: columns(split) for name, split in zip(("train", "val", "test"), rows, strict=False)
    }
    if rows[3]:
        out["pretrain"] = columns(rows[3])
    return out
