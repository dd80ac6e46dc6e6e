"""Target metrics on a known ranking: mAP is the macro mean of per-label AP (scikit-learn)."""

from __future__ import annotations

import numpy as np
import pytest

from adaptune.methods.dallmi.config import METRICS
from adaptune.methods.dallmi.metrics import multilabel_metrics

# Label 0 ranked perfectly; label 1 has positives at ranks 1 and 3 of 4.
Y = np.array([[1, 1], [1, 0], [0, 1], [0, 0]], dtype=np.float32)
S = np.array([[0.9, 0.9], [0.8, 0.7], [0.3, 0.6], [0.1, 0.2]], dtype=np.float32)


def test_map_on_a_known_ranking() -> None:
    metrics, per_label = multilabel_metrics(Y, S)
    assert per_label == pytest.approx([1.0, (1 / 1 + 2 / 3) / 2])
    assert metrics["val/map"] == pytest.approx((1.0 + 5 / 6) / 2)


def test_every_declared_metric_is_reported() -> None:
    metrics, _ = multilabel_metrics(Y, S)
    assert set(metrics) == set(METRICS)


def test_binarised_map_and_f1_use_the_threshold() -> None:
    # At 0.5, label 1 predicts rows 0, 1, 2 (one false positive): precision 2/3, recall 1.
    metrics, _ = multilabel_metrics(Y, S, threshold=0.5)
    ap_bin_label1 = 2 / 3  # AP of a binary score: its precision, reached at recall 1
    assert metrics["val/map_binarised"] == pytest.approx((1.0 + ap_bin_label1) / 2)
    assert metrics["val/macro_f1"] == pytest.approx((1.0 + 0.8) / 2)


def test_labels_without_positives_are_left_out_of_the_macro_mean() -> None:
    y = np.concatenate([Y, np.zeros((4, 1), dtype=np.float32)], axis=1)
    s = np.concatenate([S, np.full((4, 1), 0.5, dtype=np.float32)], axis=1)
    metrics, per_label = multilabel_metrics(y, s)
    assert np.isnan(per_label[2])
    assert metrics["val/map"] == pytest.approx((1.0 + 5 / 6) / 2)
