"""Multi-domain data: the embedded generator and the FDU-MTL file loader."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from adaptune.methods.dama.data import (
    AMBIGUOUS,
    FDU_DOMAINS,
    STORY,
    generate_multidomain,
    load_fdu_mtl,
)


def test_generator_is_deterministic_for_a_seed_and_sized_as_asked() -> None:
    a = generate_multidomain(160, seed=7)
    assert a == generate_multidomain(160, seed=7)
    assert a != generate_multidomain(160, seed=8)
    texts, labels, domains = a
    assert len(texts) == len(labels) == 160
    assert Counter(domains) == {d: 10 for d in FDU_DOMAINS}
    assert set(labels) == {0, 1}


def test_generator_takes_a_subset_of_domains() -> None:
    _, _, domains = generate_multidomain(30, domains=["dvd", "electronics"])
    assert set(domains) == {"dvd", "electronics"}
    with pytest.raises(ValueError, match="unknown domains"):
        generate_multidomain(10, domains=["cars"])


def test_ambiguous_cues_change_polarity_with_the_domain() -> None:
    # Without label noise, "unpredictable" marks positive story reviews (dvd) and
    # negative product reviews (electronics): the domain decides the answer.
    texts, labels, domains = generate_multidomain(3200, seed=1, label_noise=0.0)
    by_group: dict[bool, Counter[int]] = {True: Counter(), False: Counter()}
    for text, label, domain in zip(texts, labels, domains, strict=True):
        if "unpredictable" in text.split():
            by_group[domain in STORY][label] += 1
    assert by_group[True][1] > 0 and by_group[True][0] == 0
    assert by_group[False][0] > 0 and by_group[False][1] == 0
    assert AMBIGUOUS["unpredictable"] == (1, -1)


def _write_domain(root: Path, domain: str, n: int, suffix: str = "train") -> None:
    lines = [f"{i % 2}\tReview {i} of {domain} café" for i in range(n)]
    (root / f"{domain}.task.{suffix}").write_bytes(("\n".join(lines) + "\n").encode("iso-8859-2"))


def test_fdu_mtl_dev_is_the_last_200_lines_of_train(tmp_path: Path) -> None:
    _write_domain(tmp_path, "books", 250)
    _write_domain(tmp_path, "MR", 230)
    train, _, train_dom = load_fdu_mtl(tmp_path, "train")
    dev, dev_labels, dev_dom = load_fdu_mtl(tmp_path, "dev")
    assert Counter(train_dom) == {"books": 50, "MR": 30}
    assert Counter(dev_dom) == {"books": 200, "MR": 200}
    assert train[0] == "review 0 of books café"  # lower-cased, decoded as ISO-8859-2
    assert dev[0] == "review 50 of books café" and dev_labels[0] == 0
    assert train_dom[0] == "books"  # FDU-MTL domain order, not file order


def test_fdu_mtl_test_split_and_bad_lines(tmp_path: Path) -> None:
    _write_domain(tmp_path, "dvd", 5, suffix="test")
    texts, labels, _ = load_fdu_mtl(tmp_path, "test")
    assert len(texts) == 5 and labels == [0, 1, 0, 1, 0]
    (tmp_path / "dvd.task.unlabel").write_text("no tab here\n")
    with pytest.raises(ValueError, match="label<TAB>text"):
        load_fdu_mtl(tmp_path, "unlabel")
    with pytest.raises(FileNotFoundError):
        load_fdu_mtl(tmp_path / "missing", "train")


def test_a_csv_with_a_domain_column_becomes_dama_tensors(tmp_path: Path) -> None:
    # build_data reads text/label/domain through the platform's file loader, renaming
    # columns via data.columns; unseen domain names follow the FDU-MTL ones, sorted.
    from adaptune.job.spec import DataSpec
    from adaptune.methods.dama import DAMAConfig
    from adaptune.methods.dama.step import build_data

    rows = ["review,y,dom"] + [
        f"{'great' if i % 2 else 'awful'} item {i},{i % 2},{('books', 'cars')[i % 3 == 0]}"
        for i in range(40)
    ]
    (tmp_path / "r.csv").write_text("\n".join(rows) + "\n")
    data = DataSpec(
        source="file",
        path=str(tmp_path / "r.csv"),
        columns={"text": "review", "label": "y", "domain": "dom"},
        n_train=40,
        val_fraction=0.25,
    )
    train, val, test, info = build_data(DAMAConfig(max_len=8), data, None)
    assert info["domains"] == ["books", "cars"] and info["n_classes"] == 2
    # a stratified fifth is carved off for test first, then val is a quarter of the rest
    assert len(test) == 8 and len(train) == 24 and len(val) == 8
    ids, label, domain = train[0]
    assert ids.shape == (8,) and int(label) in (0, 1) and int(domain) in (0, 1)
    assert len(info["fingerprint"]) == 64
