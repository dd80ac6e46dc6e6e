"""The registry of training methods: ``METHODS[name] -> Method``."""

from __future__ import annotations

import difflib

from adaptune.method import Method
from adaptune.methods.dallmi import METHOD as DALLMI
from adaptune.methods.dama import METHOD as DAMA
from adaptune.methods.dao import METHOD as DAO
from adaptune.methods.mad import METHOD as MAD

__all__ = ["METHODS", "get_method"]

METHODS: dict[str, Method] = {m.name: m for m in (DAO, DAMA, MAD, DALLMI)}


def get_method(name: str) -> Method:
    """The method called `name`; a typo gets the valid names and the closest match."""
    try:
        return METHODS[name]
    except KeyError:
        close = difflib.get_close_matches(name, METHODS, n=1)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        raise KeyError(
            f"unknown method '{name}'{hint}; valid: {', '.join(sorted(METHODS))}"
        ) from None
