"""The MLflow pyfunc for every adaptune model, logged as code (models-from-code).

A trial's model directory holds ``adaptune.json`` ({"method": ...}) next to the
method's own files; ``predict`` takes raw inputs in the common shapes and returns the
method's predictions as a DataFrame. Logging the class as code, not a cloudpickle, means
loading a model never unpickles Python objects; the adaptune package ships with the model
(``code_paths``), so it loads where adaptune is not installed.

Accepted (text methods; images likewise for MAD): a string, a list / tuple / NumPy array /
Series of strings, a dict ({"text": [...]} or {"text": "..."}), a DataFrame with a
``text`` column (others are ignored; a frame without it is refused by name), and over
HTTP ``{"inputs": [...]}``, ``dataframe_split`` and ``dataframe_records``.
"""

from __future__ import annotations

import json
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
        and all(isinstance(v, str) for v in model_input[c].iloc[0])
    ]
    return model_input.explode(texts, ignore_index=True) if texts else model_input


class AdaptuneModel(PythonModel):
    def load_context(self, context):
        from adaptune.method import MODEL_METADATA
        from adaptune.methods import get_method

        root = context.artifacts["model"]
        method = json.loads((Path(root) / MODEL_METADATA).read_text())["method"]
        self._predict = get_method(method).load_predictor(root)

    # Untyped on purpose: MLflow reads type hints as an input schema (the logged
    # signature, tracking.store.signature_of, is the schema).
    def predict(self, context, model_input, params=None):
        return self._predict(normalise(model_input))


mlflow.models.set_model(AdaptuneModel())
