"""Data: deterministic synthetic corpora, file / Hugging Face loaders, tokenisation cache."""

from adaptune.data.cache import cached, fingerprint
from adaptune.data.finsent import generate_finsent
from adaptune.data.loaders import load_records

__all__ = ["cached", "fingerprint", "generate_finsent", "load_records"]
