"""The Method contract, checked the same way for every built-in method on toy sizes by
adaptune.contract.check_method (what `at.check_method` runs for an outside method): data
and model build, training steps are finite and reach every trainable parameter, evaluate
reports every declared metric, a saved model loads and predicts, and the method's search
spaces name only its config fields.

Adding a built-in method: one line in TINY (a small config, its data, one raw input to
predict). An installed method (entry point) is checked by its own package's tests.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from tests.conftest import ROOT

from adaptune.contract import check_method
from adaptune.methods import BUILTIN, METHODS

# method -> (fixed config values, data spec, a raw input for the saved model's predictor)
TINY: dict[str, tuple[dict[str, Any], dict[str, Any], Any]] = {
    "dao": (
        {"lora_rank": 4, "max_len": 16, "batch_size": 8, "epochs": 1, "warmup_steps": 0},
        {"source": "synthetic-finsent", "n_train": 48},
        ["The euro rallied after the ECB signalled more hikes."],
    ),
    "dama": (
        {"embedding_dim": 16, "num_heads": 2, "max_len": 8, "batch_size": 16, "epochs": 1},
        {"source": "synthetic-multidomain", "n_train": 480, "val_fraction": 0.25},
        pd.DataFrame({"text": ["long battery life"], "domain": ["electronics"]}),
    ),
    "mad": (
        {"width": 4, "pretrain_epochs": 1, "batch_size": 16, "epochs": 1, "rank": 2},
        {"source": "digits-decathlon", "n_train": 40, "options": {"size": 16}},
        lambda val: [val[0][0].permute(1, 2, 0).numpy()],  # one image of the data itself
    ),
    "dallmi": (
        {"max_len": 16, "batch_size": 8, "pos_batch_size": 1, "epochs": 2, "source_epochs": 1},
        {"source": "synthetic-multilabel", "n_train": 64},
        ["the striker scored twice in the final"],
    ),
}


def test_every_builtin_method_has_a_tiny_case() -> None:
    assert set(TINY) == set(BUILTIN)


@pytest.mark.parametrize("name", sorted(BUILTIN))
def test_builtin_method_keeps_the_contract(name: str, tmp_path: Path) -> None:
    fixed, data, example = TINY[name]
    spaces = sorted((ROOT / "search_spaces").glob(f"{name}*.yaml"))
    assert spaces, f"no search space for {name}"
    report = check_method(
        METHODS[name],
        config=fixed,
        data=data,
        example=example,
        spaces=spaces,
        cache_dir=str(tmp_path / "cache"),
    )
    assert report.steps >= 2 and METHODS[name].metric in report.metrics
    assert "spaces name only config fields" in report.passed
