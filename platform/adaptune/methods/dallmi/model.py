"""DALLMi's network: a BERT-style encoder (optional LoRA) with one sigmoid output per label.

    model = DALLMiModel(load_encoder(backbone_path(cfg), cfg), cfg, n_labels=6)
    logits = model(ids, mask)                                  # [batch, labels]
    mixed = model.forward_mixed(ids_p, mask_p, ids_u, mask_u, mu)

MixUp happens on the embedding-layer output (word + position + type, after LayerNorm):
a forward hook on the encoder's ``embeddings`` module swaps its output for
mu * E(x_p) + (1 - mu) * E(x_u), so the rest of the encoder runs unchanged and the
gradient reaches both sides.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn
from transformers import PreTrainedTokenizerBase

from adaptune.methods import encoder as encoder_lib
from adaptune.methods.encoder import shipped_backbone

from .config import DALLMiConfig


def backbone_path(cfg: DALLMiConfig) -> str:
    """The configured name/path, else the MiniLM-L6 shipped on disk (no download)."""
    if cfg.backbone:
        return cfg.backbone
    return shipped_backbone()


def start_path(cfg: DALLMiConfig, data_info: dict[str, Any]) -> str | None:
    """The saved model step 2 starts from: the shared source checkpoint, or init_from."""
    return data_info.get("source_checkpoint") or cfg.init_from


def load_tokenizer(cfg: DALLMiConfig) -> PreTrainedTokenizerBase:
    return encoder_lib.load_tokenizer(cfg.init_from or backbone_path(cfg), cfg.trust_remote_code)


def embeddings_of(encoder: nn.Module) -> nn.Module:
    """The embedding block (word + position + type + LayerNorm) of a BERT-style encoder."""
    get_base = getattr(encoder, "get_base_model", None)  # a PEFT wrapper
    base = get_base() if callable(get_base) else encoder
    emb = getattr(base, "embeddings", None)
    if not isinstance(emb, nn.Module):
        raise TypeError(f"{type(base).__name__} has no 'embeddings' module to mix on")
    return emb


class DALLMiModel(nn.Module):
    def __init__(
        self,
        encoder: nn.Module,
        cfg: DALLMiConfig,
        n_labels: int,
        labels: list[str] | None = None,
    ):
        super().__init__()
        self.labels = list(labels) if labels is not None else [str(i) for i in range(n_labels)]
        d = int(getattr(encoder, "config").hidden_size)  # noqa: B009 (a transformers config)
        self.encoder, self.pooling = encoder, cfg.pooling
        self.head = nn.Sequential(nn.Dropout(cfg.head_dropout), nn.Linear(d, n_labels))
        self._mix: tuple[torch.Tensor, torch.Tensor] | None = None  # (mu, E(x_u))
        self.last_per_label_ap: list[float] = []  # set by evaluate, saved by save_model
        embeddings_of(encoder).register_forward_hook(self._mix_hook)

    def _mix_hook(self, module: nn.Module, args: Any, output: torch.Tensor) -> Any:
        if self._mix is None:
            return None  # keep the output
        mu, e_u = self._mix
        return mu * output + (1.0 - mu) * e_u

    def forward(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        h = self.encoder(input_ids=ids, attention_mask=mask).last_hidden_state
        if self.pooling == "cls":
            pooled = h[:, 0]
        else:
            m = mask.unsqueeze(-1).to(h.dtype)
            pooled = (h * m).sum(1) / m.sum(1).clamp_min(1.0)
        logits: torch.Tensor = self.head(pooled)
        return logits

    def forward_mixed(
        self,
        ids_p: torch.Tensor,
        mask_p: torch.Tensor,
        ids_u: torch.Tensor,
        mask_u: torch.Tensor,
        mu: torch.Tensor,
    ) -> torch.Tensor:
        """Logits of mu * E(x_p) + (1 - mu) * E(x_u); mask = elementwise max of both."""
        e_u = embeddings_of(self.encoder)(input_ids=ids_u)
        self._mix = (mu.view(-1, 1, 1).to(e_u.dtype), e_u)
        try:
            return self(ids_p, torch.maximum(mask_p, mask_u))
        finally:
            self._mix = None


def unwrap(model: nn.Module) -> DALLMiModel:
    """The DALLMiModel inside a DDP wrapper (Ray Train's prepare_model), or itself."""
    inner = getattr(model, "module", model)
    assert isinstance(inner, DALLMiModel), type(inner)
    return inner


def build_model(cfg: DALLMiConfig, data_info: dict[str, Any]) -> DALLMiModel:
    """A fresh model, or (the usual case) the shared source-phase checkpoint's weights
    with fresh LoRA adapters on top when lora_rank > 0 (source.py)."""
    labels = [str(name) for name in data_info["labels"]]
    start = start_path(cfg, data_info)
    # the backbone, or the model saved at `start` (LoRA merged), with fresh LoRA
    encoder = encoder_lib.load_encoder(start or backbone_path(cfg), cfg)
    model = DALLMiModel(encoder, cfg, len(labels), labels)
    if start:
        head = torch.load(Path(start) / "head.pt", weights_only=True, map_location="cpu")
        model.head.load_state_dict(head)
    return model
