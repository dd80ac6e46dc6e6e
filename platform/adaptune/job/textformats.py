"""Financial sentiment benchmarks in the layouts they are published in, read with the
standard library (``validate`` reads them too, so it stays fast).

    texts, scores = read_sentiment("fiqa", "task1_headline_ABSA_train.json", {})
    texts, scores = read_sentiment("phrasebank", "Sentences_AllAgree.txt", {})

``fiqa``: FiQA 2018 task 1 (aspect-based financial sentiment), a JSON object keyed by
example id, each ``{"sentence": ..., "info": [{"target": ..., "sentiment_score": "0.4",
...}]}``. A sentence with several targets gets the mean of their scores: the score in
[-1, 1] is the regression target as it is, its class is DAO's Eq. 4 binning.
``phrasebank``: Financial PhraseBank's ``Sentences_<agreement>.txt``, one
``sentence@label`` a line (ISO-8859-1), label positive / negative / neutral, mapped to a
score by ``options.label_scores`` (default positive 1.0, neutral 0.0, negative -1.0, so
classes 4, 2 and 0 of the five).
Any problem is a DataFileError naming the file and its line.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from adaptune.job.datafile import DataFileError

__all__ = ["LABEL_SCORES", "SENTIMENT_FORMATS", "read_sentiment"]

SENTIMENT_FORMATS = ("fiqa", "phrasebank")
LABEL_SCORES = {"positive": 1.0, "neutral": 0.0, "negative": -1.0}


def read_sentiment(
    fmt: str, path: str | Path, options: dict[str, Any]
) -> tuple[list[str], list[float]]:
    path = Path(path)
    if not path.is_file():
        raise DataFileError(f"{fmt} file not found: {path}")
    if fmt == "fiqa":
        return _fiqa(path)
    if fmt == "phrasebank":
        return _phrasebank(path, label_scores(options))
    raise ValueError(f"unknown sentiment format '{fmt}'")


def label_scores(options: dict[str, Any]) -> dict[str, float]:
    given = options.get("label_scores", LABEL_SCORES)
    if not isinstance(given, dict) or set(given) != set(LABEL_SCORES):
        raise DataFileError(
            f"data.options.label_scores: give a score for each of {', '.join(LABEL_SCORES)}"
        )
    out = {}
    for label, value in given.items():
        if isinstance(value, bool) or not isinstance(value, int | float) or not -1 <= value <= 1:
            raise DataFileError(f"data.options.label_scores.{label}: {value!r} is not in [-1, 1]")
        out[label] = float(value)
    return out


def _fiqa(path: Path) -> tuple[list[str], list[float]]:
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise DataFileError(f"{path.name}: not a FiQA JSON file ({e})") from None
    if not isinstance(doc, dict):
        raise DataFileError(f"{path.name}: expected a JSON object keyed by example id")
    texts, scores = [], []
    for key, item in doc.items():
        where = f"{path.name}: example '{key}'"
        if not isinstance(item, dict) or not isinstance(item.get("sentence"), str):
            raise DataFileError(f"{where}: no 'sentence'")
        info = item.get("info")
        if not isinstance(info, list) or not info:
            raise DataFileError(f"{where}: no 'info' list with a sentiment_score")
        values = []
        for entry in info:
            try:
                x = float(entry["sentiment_score"])
            except (TypeError, KeyError, ValueError):
                raise DataFileError(
                    f"{where}: an 'info' entry without a numeric sentiment_score"
                ) from None
            if not math.isfinite(x) or not -1.0 <= x <= 1.0:
                raise DataFileError(f"{where}: sentiment_score {x:g} is outside [-1, 1]")
            values.append(x)
        if item["sentence"].strip():
            texts.append(item["sentence"].strip())
            scores.append(sum(values) / len(values))
    if not texts:
        raise DataFileError(f"{path.name}: no examples")
    return texts, scores


def _phrasebank(path: Path, scores_of: dict[str, float]) -> tuple[list[str], list[float]]:
    texts, scores = [], []
    for n, line in enumerate(path.read_text(encoding="iso-8859-1").splitlines(), 1):
        if not line.strip():
            continue
        text, sep, label = line.rpartition("@")
        label = label.strip().lower()
        if not sep or not text.strip() or label not in scores_of:
            raise DataFileError(
                f"{path.name}: line {n}: expected 'sentence@label' with label "
                f"{', '.join(scores_of)}"
            )
        texts.append(text.strip())
        scores.append(scores_of[label])
    if not texts:
        raise DataFileError(f"{path.name}: no examples")
    return texts, scores
