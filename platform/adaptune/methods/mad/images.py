"""MAD's image sources on disk, listed and checked without torch (``validate`` uses them).

    domains = list_domains(data)          # [Domain(name, classes, {split: [(path, class)]})]
    problems = check_inputs(data, fixed)  # [(job key, message)]: Method.check_inputs

``source: image-folder``: torchvision's ImageFolder convention per domain and split,
``<path>/<domain>/<split>/<class>/*.png|jpg|jpeg`` (classes: the train split's folder
names, sorted). ``source: decathlon``: the Visual Decathlon's release,
``<path>/annotations/<dataset>_<split>.json`` (COCO style: "images" [{id, file_name}],
"annotations" [{image_id, category_id}], "categories" [{id, name}]) with each file_name
found under ``<path>`` or ``<path>/data`` (where the data archive unpacks). The train
split is ``data.split``; the held-out test split ``data.test_split`` (else a share of
train, ``data.test_fraction``); ``options.domains`` picks and orders domains (default:
every one there, sorted).
"""

from __future__ import annotations

import json
import math
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from adaptune.job.datafile import CHECK_SECONDS
from adaptune.job.spec import DataSpec

from .config import MADConfig

__all__ = ["IMAGE_SOURCES", "Domain", "LayoutError", "check_inputs", "list_domains"]

IMAGE_SOURCES = ("image-folder", "decathlon")
SUFFIXES = (".png", ".jpg", ".jpeg")
IMAGE_OPTIONS = ("domains", "source_domain", "mean", "std", "num_workers")


class LayoutError(ValueError):
    """A data folder that is not laid out as its source says; `key` is the job key."""

    def __init__(self, key: str, message: str):
        super().__init__(message)
        self.key = key


@dataclass
class Domain:
    name: str
    classes: list[str]  # class index -> name
    splits: dict[str, list[tuple[str, int]]] = field(default_factory=dict)  # (path, class)


def splits_of(data: DataSpec) -> list[str]:
    """The folder splits read: train first, then the test split when one is named."""
    return [data.split] + ([data.test_split] if data.test_split else [])


def _split_key(data: DataSpec, split: str) -> str:
    return "data.split" if split == data.split else "data.test_split"


def _domain_names(data: DataSpec) -> list[str] | None:
    names = data.options.get("domains")
    if names is None:
        return None
    if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
        raise LayoutError("data.options.domains", f"{names!r}: give a list of domain names")
    if len(set(names)) < len(names):
        raise LayoutError("data.options.domains", f"{names!r} names a domain twice")
    return names


def list_domains(data: DataSpec) -> list[Domain]:
    """Every domain of an image source, its classes and each split's (path, class) rows."""
    if not data.path:
        raise LayoutError("data", f"source '{data.source}' needs 'path' (a folder)")
    root = Path(data.path)
    if not root.is_dir():
        raise LayoutError("data.path", f"no folder at {root}")
    lister = _image_folder if data.source == "image-folder" else _decathlon
    domains = lister(root, data, _domain_names(data))
    for d in domains:
        for split, rows in d.splits.items():
            if not rows:
                raise LayoutError(
                    _split_key(data, split), f"domain '{d.name}': its '{split}' split has no images"
                )
    return domains


def _image_folder(root: Path, data: DataSpec, names: list[str] | None) -> list[Domain]:
    found = sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not found:
        raise LayoutError(
            "data.path", f"{root} holds no domain folders (<domain>/<split>/<class>/*.png)"
        )
    out = []
    for name in names or found:
        if not (root / name).is_dir():
            raise LayoutError(
                "data.options.domains", f"no domain '{name}' in {root}; there: {', '.join(found)}"
            )
        domain = Domain(name, [])
        for split in splits_of(data):
            folder = root / name / split
            if not folder.is_dir():
                raise LayoutError(
                    _split_key(data, split),
                    f"domain '{name}' has no '{split}' split: no folder {folder}",
                )
            classes = sorted(p.name for p in folder.iterdir() if p.is_dir())
            if not classes:
                raise LayoutError("data.path", f"{folder} holds no class folders")
            if not domain.classes:
                domain.classes = classes
            unknown = sorted(set(classes) - set(domain.classes))
            if unknown:
                raise LayoutError(
                    _split_key(data, split),
                    f"{folder}: classes {', '.join(unknown)} are not in the "
                    f"'{data.split}' split of domain '{name}'",
                )
            domain.splits[split] = [
                (str(f), domain.classes.index(c))
                for c in classes
                for f in sorted((folder / c).iterdir())
                if f.suffix.lower() in SUFFIXES and f.is_file()
            ]
        out.append(domain)
    return out


def _decathlon(root: Path, data: DataSpec, names: list[str] | None) -> list[Domain]:
    ann = root / "annotations"
    if not ann.is_dir():
        raise LayoutError("data.path", f"{root} has no annotations/ folder (the Decathlon devkit)")
    tail = f"_{data.split}.json"
    found = sorted(p.name[: -len(tail)] for p in ann.glob(f"*{tail}"))
    if not found:
        raise LayoutError("data.path", f"{ann} holds no <dataset>{tail} file")
    out = []
    for name in names or found:
        domain = Domain(name, [])
        category: dict[Any, int] = {}
        for split in splits_of(data):
            path = ann / f"{name}_{split}.json"
            if not path.is_file():
                key = "data.options.domains" if name not in found else _split_key(data, split)
                raise LayoutError(key, f"dataset '{name}' has no '{split}' split: no {path}")
            if not category:
                category, domain.classes = _categories(path)
            domain.splits[split] = _coco_rows(root, path, category)
        out.append(domain)
    return out


def _read_json(path: Path) -> dict[str, Any]:
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as e:
        raise LayoutError("data.path", f"{path}: not readable JSON ({e})") from None
    if not isinstance(doc, dict):
        raise LayoutError("data.path", f"{path}: not a COCO-style object")
    return doc


def _categories(path: Path) -> tuple[dict[Any, int], list[str]]:
    """category id -> class index (ids sorted), and the class names."""
    cats = _read_json(path).get("categories")
    if not isinstance(cats, list) or not cats:
        raise LayoutError("data.path", f'{path}: no "categories" list')
    try:
        cats = sorted(cats, key=lambda c: c["id"])
        return {c["id"]: i for i, c in enumerate(cats)}, [str(c.get("name", c["id"])) for c in cats]
    except (KeyError, TypeError):
        raise LayoutError("data.path", f'{path}: a category without an "id"') from None


def _coco_rows(root: Path, path: Path, category: dict[Any, int]) -> list[tuple[str, int]]:
    doc = _read_json(path)
    images, anns = doc.get("images"), doc.get("annotations")
    if not isinstance(images, list) or not isinstance(anns, list):
        raise LayoutError("data.path", f'{path}: needs "images" and "annotations" lists')
    files: dict[Any, str] = {}
    for i, img in enumerate(images):
        if not isinstance(img, dict) or "id" not in img or "file_name" not in img:
            raise LayoutError("data.path", f'{path}: images[{i}] lacks "id" or "file_name"')
        name = str(img["file_name"])
        at = next((p for p in (root / name, root / "data" / name) if p.is_file()), None)
        if at is None:
            raise LayoutError(
                "data.path",
                f"{path}: images[{i}] (id {img['id']}): no file '{name}' under {root} "
                f"or {root / 'data'}",
            )
        files[img["id"]] = str(at)
    rows = []
    for i, a in enumerate(anns):
        if not isinstance(a, dict) or a.get("image_id") not in files:
            raise LayoutError(
                "data.path", f'{path}: annotations[{i}] names no image of "images" (image_id)'
            )
        if a.get("category_id") not in category:
            raise LayoutError(
                "data.path",
                f"{path}: annotations[{i}] category_id {a.get('category_id')!r} is not a "
                "category of the train split",
            )
        rows.append((files[a["image_id"]], category[a["category_id"]]))
    return rows


def _triples(data: DataSpec, key: str, names: list[str]) -> list[tuple[float, float, float]] | None:
    """options.mean / options.std: one [r, g, b] for every domain, or {domain: [r, g, b]}."""
    value = data.options.get(key)
    if value is None:
        return None
    where = f"data.options.{key}"

    def triple(v: Any, what: str) -> tuple[float, float, float]:
        ok = isinstance(v, list) and len(v) == 3
        ok = ok and all(isinstance(x, int | float) and not isinstance(x, bool) for x in v)
        ok = ok and all(math.isfinite(x) and (key == "mean" or x > 0) for x in v)
        if not ok:
            bound = "" if key == "mean" else " > 0"
            raise LayoutError(where, f"{what}{v!r}: give three numbers{bound} (r, g, b)")
        return float(v[0]), float(v[1]), float(v[2])

    if isinstance(value, dict):
        missing = [n for n in names if n not in value]
        if missing:
            raise LayoutError(where, f"no {key} for domain(s) {', '.join(missing)}")
        return [triple(value[n], f"{n}: ") for n in names]
    return [triple(value, "")] * len(names)


def stats_given(
    data: DataSpec, names: list[str]
) -> list[tuple[tuple[float, ...], tuple[float, ...]]] | None:
    """Per domain (mean, std) from options.mean and options.std, or None (computed)."""
    mean, std = _triples(data, "mean", names), _triples(data, "std", names)
    if (mean is None) != (std is None):
        key = "data.options.mean" if mean is None else "data.options.std"
        raise LayoutError(key, "give options.mean and options.std together (or neither)")
    return None if mean is None or std is None else list(zip(mean, std, strict=True))


def source_domain(data: DataSpec, names: list[str], checkpoint: bool) -> str | None:
    """The domain the base was pretrained on (it uses the base unchanged): options.source_domain;
    without a checkpoint, the first domain (the base is pretrained on its train split)."""
    name = data.options.get("source_domain")
    if name is None:
        return None if checkpoint else names[0]
    if name not in names:
        raise LayoutError(
            "data.options.source_domain", f"{name!r} is not a domain; valid: {', '.join(names)}"
        )
    return str(name)


def _unreadable(domains: list[Domain], budget: float) -> tuple[str | None, int, int]:
    """The first image PIL cannot read (None), how many were checked, of how many."""
    from PIL import Image

    paths = [p for d in domains for rows in d.splits.values() for p, _ in rows]
    end = time.monotonic() + budget
    for i, p in enumerate(paths):
        if time.monotonic() > end:
            return None, i, len(paths)
        try:
            with Image.open(p) as img:
                img.verify()
        except (OSError, ValueError, SyntaxError) as e:  # PIL raises SyntaxError on bad PNG
            return f"{p}: not a readable image ({type(e).__name__}: {e})", i, len(paths)
    return None, len(paths), len(paths)


def check_inputs(data: DataSpec, fixed: dict[str, Any]) -> list[tuple[str, str]]:
    """Method.check_inputs: an image source's layout, its images' readability (for
    CHECK_SECONDS at most), options, and a checkpoint's shapes against the base."""
    checkpoint = fixed.get("checkpoint") or ""
    try:
        if data.source in IMAGE_SOURCES:
            if data.options.get("pretrain", "source") != "source":
                raise LayoutError(
                    "data.options.pretrain", "image sources pretrain on 'source' only"
                )
            domains = list_domains(data)
            names = [d.name for d in domains]
            stats_given(data, names)
            source = source_domain(data, names, bool(checkpoint))
            bad, checked, total = _unreadable(domains, CHECK_SECONDS)
            if bad:
                return [("data.path", bad)]
            if checked < total:
                print(
                    f"note: data.path: {checked:,} of {total:,} images checked in "
                    f"{CHECK_SECONDS:g} s; the search reads the rest",
                    file=sys.stderr,
                )
            classes = dict(zip(names, (len(d.classes) for d in domains), strict=True))
            base_classes = classes.get(source) if source else None
        else:
            only = [k for k in IMAGE_OPTIONS if k in data.options]
            if only:
                raise LayoutError(
                    f"data.options.{only[0]}",
                    f"read by the image sources ({', '.join(IMAGE_SOURCES)}) only, "
                    f"not by '{data.source}'",
                )
            base_classes = 10  # digits-decathlon: the base is a 10-class digit net
    except LayoutError as e:
        return [(e.key, str(e))]
    if checkpoint:
        from .model import checkpoint_problem

        width = int(fixed.get("width", MADConfig.width))
        problem = checkpoint_problem(checkpoint, width, base_classes)
        if problem:
            return [("fixed.checkpoint", problem)]
    return []
