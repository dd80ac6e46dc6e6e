"""DAO's network: a transformer encoder (LoRA through PEFT) with regression and 5-class heads.

H is the first token's final hidden state; both heads read it, and DAO's task
coefficients are gradients with respect to it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn
from transformers import PreTrainedTokenizerBase

from adaptune.methods import encoder as encoder_lib
from adaptune.methods.encoder import shipped_backbone

from .config import DAOConfig
from .loss import NUM_CLASSES, DAOWeighting


def backbone_path(cfg: DAOConfig) -> str:
    """The encoder to load: a previous model's folder, the configured name/path, else the
    shipped MiniLM-L6."""
    if cfg.init_from:
        return cfg.init_from
    if cfg.backbone:
        return cfg.backbone
    return shipped_backbone()


def load_tokenizer(cfg: DAOConfig) -> PreTrainedTokenizerBase:
    return encoder_lib.load_tokenizer(backbone_path(cfg), cfg.trust_remote_code)


class DAOModel(nn.Module):
    def __init__(self, encoder: nn.Module, cfg: DAOConfig):
        super().__init__()
        d = int(getattr(encoder, "config").hidden_size)  # noqa: B009 (a transformers config)
        self.encoder = encoder
        self.reg_head = nn.Sequential(nn.Linear(d, 128), nn.Sigmoid(), nn.Linear(128, 1))
        self.cls_head = nn.Sequential(
            nn.Dropout(cfg.head_dropout),
            nn.Linear(d, 128),
            nn.Tanh(),
            nn.Dropout(cfg.head_dropout),
            nn.Linear(128, NUM_CLASSES),
        )
        self.weighting = (
            DAOWeighting(
                cfg.dao_hidden,
                cfg.alpha_init,
                cfg.beta_init,
                cfg.learn_alpha_beta,
                cfg.dao_min_weight,
                cfg.dao_use_proportions,
            )
            if cfg.weighting == "dao"
            else None
        )
        # The DAO step's log every cfg.log_every steps (step.py); save_model writes it.
        self.steps = 0
        self.trajectory: list[dict[str, float]] = []
        self.sent = 0  # trajectory rows already handed to step_series (sent to MLflow)

    weighting: DAOWeighting | None

    def shared_parameters(self) -> list[nn.Parameter]:
        """The trainable parameters both tasks share: the encoder's (LoRA or all)."""
        return [p for p in self.encoder.parameters() if p.requires_grad]

    def forward(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        out = self.encoder(input_ids=input_ids, attention_mask=attention_mask)
        h = out.last_hidden_state[:, 0]
        return h, self.reg_head(h).squeeze(-1), self.cls_head(h)


def unwrap(model: nn.Module) -> DAOModel:
    """The DAOModel inside a DDP wrapper (Ray Train's prepare_model), or itself."""
    inner = getattr(model, "module", model)
    assert isinstance(inner, DAOModel), type(inner)
    return inner


def build_model(cfg: DAOConfig, data_info: dict[str, Any]) -> DAOModel:
    model = DAOModel(encoder_lib.load_encoder(backbone_path(cfg), cfg), cfg)
    if cfg.init_from:
        heads = torch.load(Path(cfg.init_from) / "heads.pt", weights_only=True, map_location="cpu")
        model.reg_head.load_state_dict(heads["reg_head"])
        model.cls_head.load_state_dict(heads["cls_head"])
    if cfg.compile:
        model.encoder.compile()  # in place: parameter names and state_dict stay as they are
    return model


def count_trainable(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters() if p.requires_grad)
