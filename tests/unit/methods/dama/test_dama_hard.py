"""The hard corpus (the paper's regime), the one-trial stage-1 + stage-2 pipeline, the
stage-2 metric measured at the kept lambda*, and the refusal of an untrained domain head."""

from __future__ import annotations

from collections import Counter

import pytest
import torch
from torch.utils.data import DataLoader

from adaptune.job.spec import DataSpec
from adaptune.methods.dama import METHOD, DAMAConfig
from adaptune.methods.dama.hard import SPURIOUS, cue_table, generate_hard
from adaptune.methods.dama.model import unwrap
from adaptune.methods.dama.step import check_domain_head, modulating

SMALL = {"embedding_dim": 16, "num_blocks": 2, "slstm_at": (1,), "max_len": 24, "batch_size": 16}


def test_cues_disagree_between_domains_not_by_group() -> None:
    table = cue_table(["dvd", "imdb", "electronics", "camera_photo", "books", "music"])
    shared = Counter(w for cues in table.values() for w in cues)
    mixed = [
        w for w, n in shared.items() if n > 1 and len({t[w] for t in table.values() if w in t}) == 2
    ]
    assert len(mixed) >= 4  # the same word is praise in one domain and a complaint in another
    # within the story domains too: no group-level rule reads every cue right
    story = [table[d] for d in ("dvd", "imdb", "books", "music")]
    assert any(len({t[w] for t in story if w in t}) == 2 for w in shared)


def test_sizes_are_unequal_and_the_brand_word_tracks_the_label_only_in_train() -> None:
    texts, labels, doms = generate_hard(2000, seed=0)
    sizes = Counter(doms)
    assert max(sizes.values()) >= 3 * min(sizes.values())
    d, brand = next(iter(SPURIOUS.items()))

    def brand_rate(texts: list[str], labels: list[int], doms: list[str], y: int) -> float:
        rows = [t for t, lab, dd in zip(texts, labels, doms, strict=True) if dd == d and lab == y]
        return sum(brand in t.split() for t in rows) / max(1, len(rows))

    assert brand_rate(texts, labels, doms, 1) - brand_rate(texts, labels, doms, 0) > 0.4
    test = generate_hard(0, seed=9, per_domain=100, spurious=False)
    assert all(brand not in t.split() for t in test[0])
    assert Counter(test[2]) == {dd: 100 for dd in sizes}


def test_hard_preset_draws_dev_and_test_per_domain_with_their_own_seeds() -> None:
    data = DataSpec(
        source="synthetic-multidomain",
        n_train=320,
        seed=1,
        options={
            "preset": "hard",
            "dev_per_domain": 5,
            "test_per_domain": 7,
            "domains": ["dvd", "electronics", "books"],
        },
    )
    _train, _val, _test, info = METHOD.build_data(DAMAConfig(**SMALL), data, None)  # type: ignore[arg-type]
    assert info["n_train"] == 320 and info["n_val"] == 15 and info["n_test"] == 21
    with pytest.raises(ValueError, match="preset"):
        METHOD.build_data(
            DAMAConfig(**SMALL), data.model_copy(update={"options": {"preset": "x"}}), None
        )  # type: ignore[arg-type]


def test_stage2_epochs_need_gamma_and_fit_inside_epochs() -> None:
    with pytest.raises(ValueError, match="gamma > 0"):
        DAMAConfig(epochs=3, stage2_epochs=1, gamma=0.0)
    with pytest.raises(ValueError):
        DAMAConfig(epochs=2, stage2_epochs=2)


def test_an_untrained_domain_head_is_refused_or_warned(capsys: pytest.CaptureFixture[str]) -> None:
    doms = torch.arange(4).repeat(50)
    at_chance = torch.rand(200, generator=torch.Generator().manual_seed(0)) < 0.25
    with pytest.raises(ValueError, match="gamma > 0"):
        check_domain_head(at_chance, doms, 4, refuse=True)
    check_domain_head(at_chance, doms, 4, refuse=False)
    assert "at chance" in capsys.readouterr().out
    check_domain_head(torch.ones(200, dtype=torch.bool), doms, 4, refuse=True)  # trained: ok


def test_one_trial_runs_stage1_then_stage2_and_reports_the_kept_lambda() -> None:
    data = DataSpec(
        source="synthetic-multidomain",
        n_train=160,
        seed=0,
        options={
            "preset": "hard",
            "dev_per_domain": 6,
            "test_per_domain": 6,
            "domains": ["dvd", "electronics", "books", "baby"],
        },
    )
    cfg = DAMAConfig(epochs=3, stage2_epochs=2, gamma=0.5, lambda_lr=5.0, **SMALL)  # type: ignore[arg-type]
    torch.manual_seed(0)
    train, dev, held_out, info = METHOD.build_data(cfg, data, None)
    model = METHOD.build_model(cfg, info)
    inner = unwrap(model)
    loader = DataLoader(train, batch_size=16, shuffle=True, drop_last=True)
    opt = METHOD.build_optimizers(model, cfg, len(loader) * cfg.epochs)
    for epoch in range(cfg.epochs):
        before = inner.embed.weight.detach().clone()
        for batch in loader:
            METHOD.train_step(model, batch, opt, cfg)
        moved = not torch.equal(before, inner.embed.weight)
        assert moved == (epoch == 0), epoch  # the base learns in stage 1 only
        metrics = METHOD.evaluate(model, DataLoader(dev, batch_size=64), cfg)
        assert modulating(inner, cfg) == (epoch >= 0)  # after epoch 1: stage 2
    assert inner.lam.requires_grad and not inner.embed.weight.requires_grad
    # val/acc is measured at lambda*, the state that is saved: per domain it equals the
    # best dev accuracy Algorithm 1 kept (a deterministic frozen model).
    present = [i for i, d in enumerate(inner.domains) if f"val/acc/{d}" in metrics]
    kept = [float(inner.best_acc[i]) for i in present]
    assert [metrics[f"val/acc/{inner.domains[i]}"] for i in present] == pytest.approx(kept)
    scored = METHOD.evaluate_test(model, DataLoader(held_out, batch_size=64), cfg)
    assert scored["val/n/dvd"] == 6.0 and 0.0 <= scored["val/acc"] <= 1.0
