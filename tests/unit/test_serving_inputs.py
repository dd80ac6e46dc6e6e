"""The served model takes the common input shapes, refuses a frame without its column by
name, and is logged with a signature and an input example made from the method's."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from adaptune.methods import METHODS
from adaptune.methods.dama.predict import _inputs
from adaptune.methods.encoder import texts_of
from adaptune.methods.mad.predict import _rows
from adaptune.serving import normalise
from adaptune.tracking.store import signature_of

TEXT = "The euro rallied after the ECB signalled more hikes."


@pytest.mark.parametrize(
    "given",
    [
        [TEXT],
        (TEXT,),
        np.array([TEXT]),
        pd.Series([TEXT]),
        pd.DataFrame([TEXT]),  # how MLflow hands over {"inputs": [...]} and a list
        {"text": [TEXT]},
        {"text": TEXT},
        pd.DataFrame({"text": [[TEXT]]}),  # how MLflow hands over a dict of lists
        pd.DataFrame({"id": ["7"], "text": [TEXT]}),
    ],
)
def test_common_shapes_reach_the_predictor_as_texts(given: object) -> None:
    assert texts_of(normalise(given)) == [TEXT]


def test_a_frame_without_the_text_column_is_refused_by_name() -> None:
    with pytest.raises(ValueError, match=r"expected a 'text' column, got columns \['id'\]"):
        texts_of(normalise(pd.DataFrame({"id": ["7"]})))
    with pytest.raises(ValueError, match="'text' column"):
        _inputs(pd.DataFrame({"review": [TEXT], "domain": ["books"]}))
    with pytest.raises(ValueError, match="'image' column"):
        _rows(pd.DataFrame({"pixels": [[0.0]]}))


def test_dama_keeps_the_domain_of_each_row() -> None:
    frame = normalise({"text": [TEXT, "dull plot"], "domain": ["electronics", "books"]})
    assert _inputs(frame) == ([TEXT, "dull plot"], ["electronics", "books"])


def test_every_method_has_an_example_and_a_signature() -> None:
    for name, method in METHODS.items():
        signature, example = signature_of(method.input_example)
        assert signature is not None and example is not None, name
        # records: the first field named and required, the rest optional
        first, *rest = signature.inputs.inputs
        assert first.required and all(not c.required for c in rest), name
        assert first.name == ("image" if name == "mad" else "text"), name


SCHEMA = signature_of(METHODS["dao"].input_example)[0].inputs


@pytest.mark.parametrize(
    "payload",
    [
        {"inputs": [{"text": TEXT}, {"text": "b"}]},
        {"inputs": [{"text": TEXT}]},  # one record: a TypeError inside predict before
        {"inputs": [TEXT, "b"]},
        {"inputs": {"text": [TEXT, "b"]}},
        {"dataframe_split": {"columns": ["text"], "data": [[TEXT], ["b"]]}},
        {"dataframe_records": [{"id": "7", "text": TEXT}, {"id": "8", "text": "b"}]},
        "text\n" + TEXT + "\nb\n",  # CSV
    ],
)
def test_http_payloads_reach_the_predictor_as_texts(payload: object) -> None:
    """As `mlflow models serve` parses a request and checks it against the signature."""
    from mlflow.pyfunc import _validate_prediction_input
    from mlflow.pyfunc.scoring_server import infer_and_parse_data, parse_csv_input

    if isinstance(payload, str):
        data = parse_csv_input(io.StringIO(payload), SCHEMA)
    else:
        data = infer_and_parse_data(payload, SCHEMA)
    checked, _ = _validate_prediction_input(data, None, SCHEMA, None)
    assert texts_of(normalise(checked)) == [TEXT, "b"][: len(checked)]


def test_a_request_without_the_text_column_is_refused_naming_it() -> None:
    from mlflow.exceptions import MlflowException
    from mlflow.pyfunc import _validate_prediction_input
    from mlflow.pyfunc.scoring_server import infer_and_parse_data

    data = infer_and_parse_data({"dataframe_records": [{"id": "7"}]}, SCHEMA)
    with pytest.raises(MlflowException, match=r"missing inputs \['text'\]"):
        _validate_prediction_input(data, None, SCHEMA, None)


def test_a_models_vocabulary_survives_the_secret_scrub(tmp_path: Path) -> None:
    """A WordPiece vocabulary holds "secret": 3595; scrubbed as text it no longer parses
    and the served model fails to load. Configs are still scrubbed."""
    from adaptune.tracking.scrub import scrubbed_copy
    from adaptune.tracking.store import VOCABULARY_FILES

    model = tmp_path / "model"
    (model / "encoder").mkdir(parents=True)
    vocab = '{"model": {"vocab": {"secret": 3595, "password": 3596}}}'
    (model / "encoder" / "tokenizer.json").write_text(vocab)
    (model / "config.json").write_text('{"db": "postgres://u:hunter2@db/x"}')
    with scrubbed_copy(str(model), keep=VOCABULARY_FILES) as clean:
        assert json.loads((Path(clean) / "encoder" / "tokenizer.json").read_text()) == (
            json.loads(vocab)
        )
        assert "hunter2" not in (Path(clean) / "config.json").read_text()
