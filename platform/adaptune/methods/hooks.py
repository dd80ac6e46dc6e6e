"""A method folder's hooks, imported from its modules on first use (adaptune.method.lazy),
so listing methods or validating a job imports no torch.

    METHOD = Method(name="dao", ..., **hooks(__name__, step_series="step"))
"""

from __future__ import annotations

from typing import Any

from adaptune.method import lazy

__all__ = ["LAYOUT", "hooks"]

# The module of the folder that defines each required hook, under the hook's own name.
LAYOUT = {
    "build_data": "step",
    "build_model": "model",
    "build_optimizers": "step",
    "train_step": "step",
    "evaluate": "step",
    "save_model": "predict",
    "load_predictor": "predict",
}


def hooks(package: str, **modules: str) -> dict[str, Any]:
    """Method fields: LAYOUT's hooks of `package`, and the optional or moved ones given as
    hook=module (evaluate_test="step": package.step.evaluate_test)."""
    return {hook: lazy(f"{package}.{mod}:{hook}") for hook, mod in {**LAYOUT, **modules}.items()}
