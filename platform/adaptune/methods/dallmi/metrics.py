"""Multi-label target metrics through scikit-learn.

    metrics, per_label_ap = multilabel_metrics(y_true, scores, threshold=0.5)
    per_label_metrics(["genetics", "oncology"], per_label_ap)  # {"val/ap/genetics": ...}

val/map is the standard mAP: macro average precision over labels on continuous scores.
val/map_binarised is the DALLMi authors' variant (AP of thresholded predictions), kept
for comparability with the paper's tables. Labels without positives (or without
negatives, for ROC-AUC) in the validation set are left out of the macro averages.
"""

from __future__ import annotations

import re

import numpy as np

# Per-label AP goes to MLflow as val/ap/<label> up to this many labels (beyond, only the
# saved model's eval.json has it: one metric per label and epoch would swamp the store).
MAX_LABEL_METRICS = 100


def multilabel_metrics(
    y_true: np.ndarray, scores: np.ndarray, threshold: float = 0.5
) -> tuple[dict[str, float], list[float]]:
    from sklearn import metrics as skm  # here: workers that never evaluate skip the import

    has_pos = y_true.sum(0) > 0
    has_both = has_pos & (y_true.sum(0) < len(y_true))
    pred = (scores >= threshold).astype(np.float64)
    per_label = [
        float(skm.average_precision_score(y_true[:, j], scores[:, j]))
        if has_pos[j]
        else float("nan")
        for j in range(y_true.shape[1])
    ]
    out = {
        "val/map": float(np.nanmean(per_label)) if has_pos.any() else 0.0,
        "val/map_binarised": _macro(skm.average_precision_score, y_true, pred, has_pos),
        "val/micro_ap": float(skm.average_precision_score(y_true, scores, average="micro")),
        "val/macro_f1": float(
            skm.f1_score(y_true[:, has_pos], pred[:, has_pos], average="macro", zero_division=0)
        ),
        "val/roc_auc": _macro(skm.roc_auc_score, y_true, scores, has_both),
    }
    return out, per_label


def _macro(fn: object, y_true: np.ndarray, scores: np.ndarray, keep: np.ndarray) -> float:
    """fn's macro average over the kept labels (fn: a scikit-learn metric)."""
    if not keep.any():
        return 0.0
    return float(fn(y_true[:, keep], scores[:, keep], average="macro"))  # type: ignore[operator]


def metric_name(label: str) -> str:
    """``val/ap/<label>`` with characters MLflow rejects in metric names replaced by _."""
    return "val/ap/" + (re.sub(r"[^A-Za-z0-9_.\- ]", "_", label) or "_")


def per_label_metrics(labels: list[str], per_label_ap: list[float]) -> dict[str, float]:
    """``val/ap/<label>`` for each label with a finite AP; {} above MAX_LABEL_METRICS."""
    if len(labels) > MAX_LABEL_METRICS:
        return {}
    return {
        metric_name(label): ap
        for label, ap in zip(labels, per_label_ap, strict=False)
        if np.isfinite(ap)
    }
