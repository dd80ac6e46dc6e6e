"""The MLflow pyfunc for every adaptune model, logged as code (models-from-code).

A trial's model directory holds ``adaptune.json`` ({"method": ...}) next to the
method's own files; ``predict`` takes raw text (a string, a list, or a DataFrame with
a 'text' column) and returns the method's predictions as a DataFrame. Logging the
class as code, not a cloudpickle, means loading a model never unpickles Python objects.
"""

from __future__ import annotations

import json
from pathlib import Path

import mlflow
from mlflow.pyfunc import PythonModel


class AdaptuneModel(PythonModel):
    def load_context(self, context):
        from adaptune.method import MODEL_METADATA
        from adaptune.methods import get_method

        root = context.artifacts["model"]
        method = json.loads((Path(root) / MODEL_METADATA).read_text())["method"]
        self._predict = get_method(method).load_predictor(root)

    # Untyped on purpose: MLflow reads type hints as an input schema.
    def predict(self, context, model_input, params=None):
        return self._predict(model_input)


mlflow.models.set_model(AdaptuneModel())
