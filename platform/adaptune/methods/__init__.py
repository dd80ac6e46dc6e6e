"""The registry of training methods: ``METHODS[name] -> Method``."""

from __future__ import annotations

import difflib
import importlib

from adaptune.method import Method

__all__ = ["METHODS", "get_method"]

# The registry: one line per method, its folder's name (the folder's __init__ defines
# METHOD; its hooks are imported on first use, so this costs no torch import).
NAMES = (
    "dao",
    "dama",
    "mad",
    "dallmi",
)
METHODS: dict[str, Method] = {
    name: importlib.import_module(f".{name}", __name__).METHOD for name in NAMES
}


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
