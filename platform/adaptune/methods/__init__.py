"""The registry of training methods: ``METHODS[name] -> Method``.

Three ways in, one dict:

- built-in: one line in BUILTIN (the folder's ``__init__`` defines METHOD);
- installed packages: an entry point in the group ``adaptune.methods`` whose object is a
  ``Method`` (``[project.entry-points."adaptune.methods"] dann = "adaptune_dann:METHOD"``);
- a notebook or script: ``register_method(method)``, for this process only.

``method_origin(name)`` says where each came from (``adaptune methods`` prints it). An
entry point that fails to load does not break the registry: it is left out of METHODS,
kept in BROKEN with the reason, and ``get_method`` of its name raises that reason.
"""

from __future__ import annotations

import difflib
import importlib
import importlib.metadata
from collections.abc import Iterable

from adaptune.method import Method

__all__ = [
    "BROKEN",
    "BUILTIN",
    "ENTRY_POINT_GROUP",
    "METHODS",
    "MethodRegistryError",
    "get_method",
    "method_origin",
    "register_method",
    "registered_here",
]

ENTRY_POINT_GROUP = "adaptune.methods"
BUILTIN_ORIGIN = "adaptune"
REGISTERED = "registered in this process"

# The registry: one line per built-in method, its folder's name (the folder's __init__
# defines METHOD; its hooks are imported on first use, so this costs no torch import).
BUILTIN = (
    "dao",
    "dama",
    "mad",
    "dallmi",
)


class MethodRegistryError(ValueError):
    """A method that cannot join the registry: a name clash, or a broken entry point."""


METHODS: dict[str, Method] = {
    name: importlib.import_module(f".{name}", __name__).METHOD for name in BUILTIN
}
_ORIGINS: dict[str, str] = dict.fromkeys(BUILTIN, BUILTIN_ORIGIN)
# name -> why its entry point could not be used (the message get_method raises)
BROKEN: dict[str, str] = {}


def _describe(ep: importlib.metadata.EntryPoint) -> str:
    dist = ep.dist.name if ep.dist is not None else "an unknown distribution"
    return f"entry point '{ep.name} = {ep.value}' (group {ENTRY_POINT_GROUP}, package {dist})"


def _load_entry_point(ep: importlib.metadata.EntryPoint) -> Method:
    """The entry point's Method; MethodRegistryError naming the entry point otherwise."""
    where = _describe(ep)
    try:
        obj = ep.load()
    except Exception as e:  # any import-time failure of someone else's package
        raise MethodRegistryError(
            f"{where} failed to load: {type(e).__name__}: {e}. Fix the package or "
            f"uninstall it (pip uninstall {ep.dist.name if ep.dist else '<package>'})."
        ) from e
    if not isinstance(obj, Method):
        raise MethodRegistryError(
            f"{where} loads a {type(obj).__name__}, not an adaptune.method.Method: point it "
            "at the module's Method object, e.g. 'my_package:METHOD'"
        )
    if obj.name != ep.name:  # trials find their method again by Method.name
        raise MethodRegistryError(
            f"{where} is named '{ep.name}' but its Method is named '{obj.name}': "
            "the two must be the same"
        )
    return obj


def _entry_points() -> Iterable[importlib.metadata.EntryPoint]:
    seen: set[tuple[str, str]] = set()
    for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        # the same distribution on sys.path twice (an editable install beside a copy)
        # lists its entry points twice: one method, not a clash
        if (ep.name, ep.value) not in seen:
            seen.add((ep.name, ep.value))
            yield ep


def load_entry_points() -> None:
    """Add every installed package's methods; a broken one goes to BROKEN, not raised, so
    that one bad package does not stop commands that never use it."""
    for ep in _entry_points():
        if ep.name in METHODS and _ORIGINS.get(ep.name) != _dist(ep):
            BROKEN[ep.name] = (
                f"{_describe(ep)} clashes with the method '{ep.name}' from "
                f"{_ORIGINS[ep.name]}: rename it (the entry point and its Method.name)"
            )
            continue
        try:
            METHODS[ep.name] = _load_entry_point(ep)
        except MethodRegistryError as e:
            BROKEN[ep.name] = str(e)
            continue
        _ORIGINS[ep.name] = _dist(ep)


def _dist(ep: importlib.metadata.EntryPoint) -> str:
    return ep.dist.name if ep.dist is not None else f"entry point {ep.value}"


def register_method(method: Method, *, replace: bool = False) -> Method:
    """Add `method` to this process's registry (a notebook's own method). A name already
    taken is refused; `replace=True` lets a notebook re-run the cell that registered its
    own method, but never replaces a built-in or an installed one."""
    if not isinstance(method, Method):
        raise TypeError(f"register_method takes an adaptune.method.Method, got {type(method)}")
    name = method.name
    if name in METHODS and METHODS[name] is not method:
        origin = _ORIGINS[name]
        if not (replace and origin.startswith(REGISTERED)):
            hint = (
                " (pass replace=True to replace the one registered earlier in this process)"
                if origin.startswith(REGISTERED)
                else ""
            )
            raise MethodRegistryError(
                f"a method named '{name}' is already registered (from {origin}); "
                f"give yours another Method.name{hint}"
            )
    if name in BROKEN:  # an installed package claims the name, even if it failed to load
        raise MethodRegistryError(f"the name '{name}' is taken: {BROKEN[name]}")
    METHODS[name] = method
    module = getattr(method.config_cls, "__module__", None)
    _ORIGINS[name] = f"{REGISTERED} ({module})" if module else REGISTERED
    return method


def registered_here() -> dict[str, Method]:
    """The methods register_method added in this process. Other processes (Ray workers, a
    served model) cannot import them: a search ships these with its trials (cloudpickled
    in the trial config) and the worker registers them again (replace=True)."""
    return {n: METHODS[n] for n, o in _ORIGINS.items() if o.startswith(REGISTERED)}


def method_origin(name: str) -> str:
    """Where the method came from: "adaptune" (built-in), the distribution that declared
    its entry point, or "registered in this process (<module of its config class>)"."""
    get_method(name)  # the same error for an unknown or broken name
    return _ORIGINS[name]


def get_method(name: str) -> Method:
    """The method called `name`; a typo gets the valid names and the closest match, a
    broken entry point the reason it could not be loaded."""
    try:
        return METHODS[name]
    except KeyError:
        if name in BROKEN:
            raise KeyError(f"method '{name}' is not usable: {BROKEN[name]}") from None
        close = difflib.get_close_matches(name, METHODS, n=1)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        raise KeyError(
            f"unknown method '{name}'{hint}; valid: {', '.join(sorted(METHODS))}"
        ) from None


load_entry_points()
