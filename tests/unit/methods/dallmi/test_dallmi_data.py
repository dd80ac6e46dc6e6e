"""synthetic-multilabel and revealed positives: two shifted domains, partial target labels."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from adaptune.job.spec import DataSpec
from adaptune.methods.dallmi.config import DALLMiConfig
from adaptune.methods.dallmi.data import (
    VOCAB,
    generate_multilabel,
    load_multilabel,
    multi_hot,
    reveal_positives,
)


def test_the_generator_is_deterministic_and_multilabel() -> None:
    a, b = generate_multilabel(200, seed=3), generate_multilabel(200, seed=3)
    assert a == b
    (_, s_labels), _, names = a
    assert names == list(VOCAB)[:6]
    assert np.mean([len(labs) > 1 for labs in s_labels]) > 0.3  # labels co-occur


def test_target_vocabulary_is_shifted() -> None:
    (s_text, _), (t_text, _), _ = generate_multilabel(300, seed=0)
    s_words = {w for t in s_text for w in t.split()}
    t_words = {w for t in t_text for w in t.split()}
    assert "crispr" in t_words and "crispr" not in s_words  # a target-only genetics word
    assert "chromosome" in s_words and "chromosome" not in t_words
    assert "gene" in s_words & t_words  # a shared word


def test_reveal_keeps_a_fraction_of_each_labels_positives_and_at_least_one() -> None:
    rng = np.random.default_rng(0)
    y = (rng.random((200, 3)) < 0.4).astype(np.float32)
    y[:, 2] = 0
    y[7, 2] = 1
    observed = reveal_positives(y, 0.3, seed=1)
    assert (observed <= y).all()  # only true positives are revealed
    assert observed[:, 0].sum() == round(y[:, 0].sum() * 0.3)
    assert observed[:, 2].sum() == 1


def test_multi_hot_ignores_unknown_labels() -> None:
    assert multi_hot([["b", "z"], []], ["a", "b"]).tolist() == [[0, 1], [0, 0]]


def test_a_config_without_a_target_phase_is_rejected() -> None:
    with pytest.raises(ValueError, match="source_epochs"):
        DALLMiConfig(epochs=0, source_epochs=2)
    with pytest.raises(ValueError, match="init_from"):
        DALLMiConfig(init_from="some/model", source_epochs=1)
    DALLMiConfig(epochs=2, source_epochs=2)  # epochs count the target phase alone


def test_a_jsonl_file_splits_into_domains_with_list_or_piped_labels(tmp_path: Path) -> None:
    rows = [
        {"abstract": "gene study", "tags": ["bio"], "site": "papers"},
        {"abstract": "tumor post", "tags": "bio|med", "site": "forum"},
        {"abstract": "heart post", "tags": ["med"], "site": "forum"},
    ]
    path = tmp_path / "d.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows))
    spec = DataSpec(
        source="file",
        path=str(path),
        columns={"text": "abstract", "labels": "tags", "domain": "site"},
        options={"source_domain": "papers", "target_domain": "forum"},
    )
    source, target, names = load_multilabel(spec)
    assert source == (["gene study"], [["bio"]])
    assert target == (["tumor post", "heart post"], [["bio", "med"], ["med"]])
    assert names == ["bio", "med"]
