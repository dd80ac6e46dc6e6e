"""Secrets found in text, by the environment's values and by their look: standard library
only, so the job checks (``validate``) use it as well as the MLflow client (tracking/scrub.py).

    scrub("postgres://u:hunter2@db/x")          # -> "postgres://u:***@db/x"
    scrub("token=ghp_" + "a" * 36)              # -> "token=***"

A secret is: the value of a secret-looking environment variable (``*TOKEN*``,
``*PASSWORD*``, ``*SECRET*``, ``*KEY*``, ``AWS_*``, ``*_PAT``...); a string shaped like a
well-known credential (GitHub, AWS, Slack, OpenAI-style, Hugging Face, Google keys, JWTs,
private keys); the value after ``password=`` / ``token:`` and the like; a URL's password.
"""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Sequence
from typing import Any

__all__ = ["REDACTED", "SECRET_PATTERNS", "scrub", "secret_values"]

REDACTED = "***"
# Names whose values are credentials. Values under MIN_SECRET_LEN characters ("1",
# "true") are left alone, except for names that can only hold a secret (a password,
# token, secret or personal access token), down to MIN_NAMED_SECRET_LEN.
SECRET_ENV = re.compile(r"TOKEN|KEY|SECRET|PASSW|CREDENTIAL|AUTH|^AWS_|(^|_)PAT($|_)", re.I)
ONLY_SECRET_ENV = re.compile(r"TOKEN|SECRET|PASSW|CREDENTIAL|(^|_)PAT($|_)", re.I)
MIN_SECRET_LEN = 8
MIN_NAMED_SECRET_LEN = 4
_NOT_SECRET = {"true", "false", "none", "null", "yes", "no", "on", "off", "auto"}

SECRET_PATTERNS = tuple(
    re.compile(p)
    for p in (
        r"\bgh[pousr]_[A-Za-z0-9]{30,}",  # GitHub tokens
        r"\bgithub_pat_[A-Za-z0-9_]{30,}",  # GitHub fine-grained personal access tokens
        r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b",  # AWS access key ids
        r"\bxox[abposr]-[A-Za-z0-9-]{10,}",  # Slack
        r"\bsk-[A-Za-z0-9_-]{20,}",  # OpenAI / Anthropic style API keys
        r"\bhf_[A-Za-z0-9]{30,}",  # Hugging Face
        r"\bAIza[0-9A-Za-z_-]{35}",  # Google API keys
        r"\bglpat-[A-Za-z0-9_-]{20,}",  # GitLab
        r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}",  # JWTs
        r"-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?-----END [A-Z ]*PRIVATE KEY-----",
        r"(?i)\bbearer\s+[A-Za-z0-9._~+/-]{16,}=*",
    )
)
# name=value, name: value, "name": "value" for names that hold secrets: the value goes.
# A bare "token" only as a whole word: a tokenizer's "pad_token": "[PAD]" is no secret.
_ASSIGNED = re.compile(
    r"(?i)(\b(?:(?:[a-z0-9]+[_-])*(?:password|passwd|secret|api[_-]?key|apikey|"
    r"access[_-]?key|secret[_-]?key|private[_-]?key|(?:access|auth|api|bearer|refresh|"
    r"session|oauth|hf|gh|github|hub|personal)[_-]token)|\btoken)['\"]?\s*[:=]\s*)(['\"]?)"
    r"([^\s'\",;&}]+)"
)
_URL_PASSWORD = re.compile(r"(://[^/@:\s]+):[^/@\s]+@")


def secret_values(environ: dict[str, str] | None = None) -> list[str]:
    """Values of secret-looking environment variables, longest first."""
    env = os.environ if environ is None else environ
    found = set()
    for name, value in env.items():
        if not SECRET_ENV.search(name) or value.strip().lower() in _NOT_SECRET:
            continue
        least = MIN_NAMED_SECRET_LEN if ONLY_SECRET_ENV.search(name) else MIN_SECRET_LEN
        if len(value) >= least:
            found.add(value)
    return sorted(found, key=len, reverse=True)


@functools.lru_cache(maxsize=256)
def _whole(secret: str) -> re.Pattern[str]:
    """A short secret, matched only as a whole word ("hunter2" in "hunter2x" is not it)."""
    return re.compile(rf"(?<![A-Za-z0-9]){re.escape(secret)}(?![A-Za-z0-9])")


def scrub(value: Any, secrets: Sequence[str] | None = None) -> Any:
    """`value` (a string, or dicts/lists/tuples of them) with every secret replaced by
    ``***``; other values are returned as they are. Scrub before truncating: a cut
    secret would no longer match."""
    secrets = secret_values() if secrets is None else secrets
    if isinstance(value, str):
        for secret in secrets:
            if len(secret) >= MIN_SECRET_LEN:
                value = value.replace(secret, REDACTED)
            elif secret in value:
                value = _whole(secret).sub(REDACTED, value)
        for pattern in SECRET_PATTERNS:
            value = pattern.sub(REDACTED, value)
        value = _ASSIGNED.sub(rf"\1\2{REDACTED}", value)
        return _URL_PASSWORD.sub(rf"\1:{REDACTED}@", value)
    if isinstance(value, dict):
        return {scrub(k, secrets): scrub(v, secrets) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(scrub(v, secrets) for v in value)
    return value
