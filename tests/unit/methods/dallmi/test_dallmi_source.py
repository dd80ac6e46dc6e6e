"""The equal-source rule (issue 15): every arm starts step 2 from the same saved source
checkpoint for a seed and trains the same number of target-phase steps; the oracle
sees every target label; the shifted corpus preset; the arms table with both mAP forms."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import torch

from adaptune.job.spec import DataSpec
from adaptune.methods import get_method
from adaptune.methods.dallmi.config import DALLMiConfig
from adaptune.methods.dallmi.data import NONCE, VOCAB, generate_multilabel
from adaptune.methods.dallmi.source import source_key

DATA = DataSpec(source="synthetic-multilabel", n_train=48, options={"n_labels": 4})
TINY = DALLMiConfig(max_len=16, batch_size=8, pos_batch_size=1, epochs=1, source_epochs=1)


def _build(cfg: DALLMiConfig, cache: Path) -> tuple[object, dict, torch.nn.Module]:
    method = get_method("dallmi")
    train, _val, _test, info = method.build_data(cfg, DATA, str(cache))
    return train, info, method.build_model(cfg, info)


def _same_weights(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


def test_every_arm_starts_from_the_same_saved_source_checkpoint(tmp_path: Path) -> None:
    arms = [
        TINY,
        dataclasses.replace(TINY, mode="pu_bce", lr=3e-4),
        dataclasses.replace(TINY, mode="source_only", loss_form="log", w_mix=0.0),
        dataclasses.replace(TINY, mode="oracle", revealed=0.5, mixup_a=1.0),
    ]
    built = [_build(cfg, tmp_path) for cfg in arms]
    paths = {info["source_checkpoint"] for _, info, _ in built}
    assert len(paths) == 1 and (Path(paths.pop()) / "head.pt").exists()
    # ... while the data fingerprint (what promotion compares) tells the label regimes
    # apart: 30 % revealed (the first three), 50 % revealed seen by the oracle = all labels
    prints = [info["fingerprint"] for _, info, _ in built]
    assert prints[0] == prints[1] == prints[2] != prints[3]
    assert _build(dataclasses.replace(TINY, revealed=0.5), tmp_path)[1]["fingerprint"] not in prints
    first = built[0][2]
    assert all(_same_weights(first, model) for _, _, model in built[1:])
    # ... and it is the source phase's result, not the untrained backbone
    fresh = get_method("dallmi").build_model(
        dataclasses.replace(TINY, source_epochs=0), {"labels": built[0][1]["labels"]}
    )
    assert not _same_weights(first, fresh)


def test_the_source_checkpoint_depends_on_the_seed_and_source_settings_only() -> None:
    key = source_key(TINY, "data")
    assert key == source_key(dataclasses.replace(TINY, mode="pu_bce", lr=1.0, w_mix=0.0), "data")
    assert key != source_key(dataclasses.replace(TINY, seed=7), "data")
    assert key != source_key(dataclasses.replace(TINY, source_lr=1e-3), "data")
    assert key != source_key(TINY, "other data")


def test_the_same_number_of_target_phase_steps_for_every_mode(tmp_path: Path) -> None:
    method = get_method("dallmi")
    steps = {}
    for mode in ("dallmi", "pu_bce", "oracle", "source_only"):
        cfg = dataclasses.replace(TINY, mode=mode, epochs=2)
        train, _, _ = _build(cfg, tmp_path)
        loader = method.train_loader(train, cfg, torch.Generator().manual_seed(0), 0, 1)
        steps[mode] = sum(len(list(loader)) for _ in range(cfg.epochs))
    assert len(set(steps.values())) == 1 and steps["dallmi"] > 0


def test_the_oracle_observes_every_target_label(tmp_path: Path) -> None:
    partial, info, _ = _build(dataclasses.replace(TINY, revealed=0.1), tmp_path)
    oracle, info_o, _ = _build(dataclasses.replace(TINY, mode="oracle", revealed=0.1), tmp_path)
    assert info_o["observed_positives"] == info_o["target_positives"]
    assert sum(info["observed_positives"]) < sum(info["target_positives"])
    ns = oracle.n_source  # type: ignore[attr-defined]
    assert oracle.y[ns:].sum() > partial.y[ns:].sum()  # type: ignore[attr-defined]


def test_init_from_a_saved_model_replaces_the_source_phase(tmp_path: Path) -> None:
    _, info, model = _build(TINY, tmp_path)
    start = dataclasses.replace(TINY, source_epochs=0, init_from=info["source_checkpoint"])
    _, info2, again = _build(start, tmp_path / "other")
    assert "source_checkpoint" not in info2 and _same_weights(model, again)


def test_the_shifted_preset_moves_cues_and_label_priors() -> None:
    (s_text, s_lab), (t_text, t_lab), names = generate_multilabel(600, seed=0, preset="shifted")
    target_words = {w for doc in t_text for w in doc.split()}
    assert {w for cues in NONCE for w in cues} <= target_words
    source_words = {w for doc in s_text for w in doc.split()}
    assert not {w for cues in NONCE for w in cues} & source_words
    for name in names:  # at most one word of a label's own list in the target, besides
        own = set(VOCAB[name]) & target_words  # its third word, reassigned to another label
        assert len(own - {VOCAB[name][2]}) <= 1
    first, last = names[0], names[-1]
    share = lambda labs, n: sum(n in ls for ls in labs) / len(labs)  # noqa: E731
    assert share(s_lab, first) > 2 * share(t_lab, first)
    assert share(t_lab, last) > 2 * share(s_lab, last)
    easy = generate_multilabel(50, seed=0)
    assert easy == generate_multilabel(50, seed=0, preset="easy")
    with pytest.raises(ValueError, match="preset"):
        generate_multilabel(5, preset="hard")
