"""Shared data plumbing: file / Hugging Face loaders and the tokenisation cache.
Each method's own corpus generator lives in its folder (``methods/<m>/data.py``)."""

from adaptune.data.cache import cached, fingerprint
from adaptune.data.loaders import load_records

__all__ = ["cached", "fingerprint", "load_records"]
