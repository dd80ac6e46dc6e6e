"""The MLflow pyfunc for every adaptune model, logged as code (models-from-code).

A trial's model directory holds ``adaptune.json`` ({"method": ...}) next to the
method's own files; ``predict`` takes raw inputs in the common shapes and returns the
method's predictions as a DataFrame. Logging the class as code, not a cloudpickle, means
loading a model never unpickles Python objects; the adaptune package ships with the model
(``code_paths``), so it loads where adaptune is not installed.

The signature names the input column (``text``; MAD ``image``) and MLflow checks it
before ``predict``: over HTTP ``{"inputs": ["...", ...]}``, ``{"inputs": [{"text":
"..."}]}``, ``{"inputs": {"text": [...]}}``, ``dataframe_split``, ``dataframe_records``
and CSV with a ``text`` header; in Python a dict ({"text": [...]} or {"text": "..."}) or
a DataFrame with a ``text`` column. Other columns are ignored; a request without the
column is refused by MLflow naming it ("Model is missing inputs ['text']").
"""

from __future__ import annotations

import contextlib
import json
import logging
from pathlib import Path
from typing import Any

import mlflow
from mlflow.pyfunc import PythonModel


def normalise(model_input: Any) -> Any:
    """The input as the methods' predictors take it: a list of values, or a DataFrame of
    named columns with one value per cell.

    MLflow hands a JSON array or a Python list over as a frame with one unnamed column
    (0), and a dict of lists as one row of list cells; both are undone here."""
    import numpy as np
    import pandas as pd

    if isinstance(model_input, pd.Series | np.ndarray | tuple):
        return list(model_input)
    if isinstance(model_input, dict):
        scalar = all(not isinstance(v, list | tuple | np.ndarray) for v in model_input.values())
        model_input = pd.DataFrame([model_input] if scalar else dict(model_input))
    if not isinstance(model_input, pd.DataFrame):
        return model_input
    if list(model_input.columns) == [0]:  # a list or array, not a named column
        return list(model_input[0])
    texts = [
        c
        for c in model_input.columns
        if len(model_input) == 1
        and isinstance(model_input[c].iloc[0], list | np.ndarray)
        and np.ndim(model_input[c].iloc[0]) == 1  # not a 0-d array: one text
        and all(isinstance(v, str) for v in model_input[c].iloc[0])
    ]
    return model_input.explode(texts, ignore_index=True) if texts else model_input


@contextlib.contextmanager
def _no_load_report() -> Any:
    """transformers logs a "LOAD REPORT" warning when a checkpoint's keys differ from the
    model's (the encoder's pooler weights MISSING: the methods drop the pooler); in a
    served model's start-up log it reads as a failure. Errors still show."""
    log = logging.getLogger("transformers.modeling_utils")
    level = log.level
    log.setLevel(logging.ERROR)
    try:
        yield
    finally:
        log.setLevel(level)


class AdaptuneModel(PythonModel):
    def load_context(self, context):
        from adaptune.method import MODEL_METADATA
        from adaptune.methods import get_method

        root = context.artifacts["model"]
        method = json.loads((Path(root) / MODEL_METADATA).read_text())["method"]
        with _no_load_report():
            self._predict = get_method(method).load_predictor(root)

    # Untyped on purpose: MLflow reads type hints as an input schema (the logged
    # signature, tracking.store.signature_of, is the schema).
    def predict(self, context, model_input, params=None):
        return self._predict(normalise(model_input))


mlflow.models.set_model(AdaptuneModel())
