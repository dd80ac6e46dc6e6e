"""The text benchmarks' own layouts read from the fixtures in tests/fixtures/, a dataset
on local disk through source `hf`, and each text method's splits as `adaptune data`
reads them."""

from __future__ import annotations

from pathlib import Path

import pytest

from adaptune.data import load_records, splits
from adaptune.job.datafile import DataFileError
from adaptune.job.spec import DataSpec
from adaptune.job.textformats import read_sentiment

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
FIQA = FIXTURES / "fiqa" / "task1_headline_ABSA_train.json"
PHRASEBANK = FIXTURES / "phrasebank" / "Sentences_AllAgree.txt"


def test_fiqa_scores_are_the_mean_over_a_sentences_targets() -> None:
    texts, scores = read_sentiment("fiqa", FIQA, {})
    assert len(texts) == 24 and all(-1 <= s <= 1 for s in scores)
    shell = texts.index("Shell and BG agree merger, BG shares jump")
    assert scores[shell] == pytest.approx((0.2 + 0.7) / 2)


def test_phrasebank_labels_map_to_scores_and_latin1_reads() -> None:
    texts, scores = read_sentiment("phrasebank", PHRASEBANK, {})
    assert len(texts) == 24 and set(scores) == {-1.0, 0.0, 1.0}
    assert any("Sepp\xe4l\xe4" in t for t in texts)
    _, mild = read_sentiment(
        "phrasebank",
        PHRASEBANK,
        {"label_scores": {"positive": 0.4, "neutral": 0.0, "negative": -0.4}},
    )
    assert set(mild) == {-0.4, 0.0, 0.4}


def test_a_bad_phrasebank_line_names_file_and_line(tmp_path: Path) -> None:
    bad = tmp_path / "Sentences_50Agree.txt"
    bad.write_text("Profit rose .@positive\nNo label on this line\n", encoding="latin-1")
    with pytest.raises(DataFileError, match=r"Sentences_50Agree.txt: line 2: expected"):
        read_sentiment("phrasebank", bad, {})


def test_a_test_file_in_the_sources_own_format() -> None:
    data = DataSpec(source="phrasebank", path=str(PHRASEBANK), test_path=str(PHRASEBANK))
    given = splits.test_source(data)
    assert given is not None and given.path == str(PHRASEBANK)
    assert splits.test_source(DataSpec(source="fdu-mtl", path="x", test_path="y")) is None


@pytest.mark.parametrize("form", ["folder", "dict", "arrow", "parquet"])
def test_hf_source_reads_a_dataset_from_local_disk(tmp_path: Path, form: str) -> None:
    import datasets

    ds = datasets.Dataset.from_dict(
        {"sentence": ["up", "down", "flat"], "polarity": [0.5, -0.5, 0.0]}
    )
    if form == "folder":
        ds.save_to_disk(tmp_path / "saved")
        path = tmp_path / "saved"
    elif form == "dict":
        datasets.DatasetDict({"train": ds, "test": ds.select([0])}).save_to_disk(tmp_path / "dd")
        path = tmp_path / "dd"
    elif form == "arrow":
        ds.save_to_disk(tmp_path / "saved")
        path = next((tmp_path / "saved").glob("*.arrow"))
    else:
        path = tmp_path / "x.parquet"
        ds.to_parquet(path)
    data = DataSpec(source="hf", path=str(path), columns={"text": "sentence", "score": "polarity"})
    rec = load_records(data, needed=("text", "score"))
    assert rec == {"text": ["up", "down", "flat"], "score": [0.5, -0.5, 0.0]}
    if form == "dict":
        test = splits.test_source(data.model_copy(update={"test_split": "test"}))
        assert test is not None and load_records(test, ("text",))["text"] == ["up"]
        with pytest.raises(KeyError, match="split 'nope' not in"):
            load_records(data.model_copy(update={"split": "nope"}), ("text",))


def test_each_text_method_reads_its_paper_layout_into_splits() -> None:
    from adaptune.methods import METHODS

    dao = METHODS["dao"].read_splits(DataSpec(source="fiqa", path=str(FIQA)))
    assert set(dao) == {"train", "val", "test"}
    assert sum(len(s["text"]) for s in dao.values()) == 24
    dama = METHODS["dama"].read_splits(
        DataSpec(source="fdu-mtl", path=str(FIXTURES / "fdu-mtl"), options={"dev_per_domain": 3})
    )
    assert [len(dama[s]["text"]) for s in ("train", "val", "test")] == [18, 6, 8]
    assert set(dama["test"]["domain"]) == {"books", "electronics"}
    options = {"source_domain": "pubmed", "target_domain": "forum"}
    columns = {"text": "abstract", "labels": "topics", "domain": "venue"}
    for name, cols in (("docs.jsonl", {}), ("docs.csv", columns)):
        spec = DataSpec(
            source="file", path=str(FIXTURES / "multilabel" / name), columns=cols, options=options
        )
        dallmi = METHODS["dallmi"].read_splits(spec)
        assert len(dallmi["source"]["text"]) == 16
        assert sum(len(dallmi[s]["text"]) for s in ("train", "val", "test")) == 16
        assert all(isinstance(labels, list) for labels in dallmi["train"]["label"])


def test_validate_checks_a_saved_datasets_folders_columns_and_splits(tmp_path: Path) -> None:
    import datasets

    from adaptune.job.spec import SpecError, load_job
    from adaptune.plan import make_plans

    ds = datasets.Dataset.from_dict({"sentence": ["up"] * 40, "polarity": [0.5] * 40})
    datasets.DatasetDict({"train": ds, "test": ds}).save_to_disk(tmp_path / "saved")

    def problem(data: str) -> str:
        job = tmp_path / "job.yaml"
        job.write_text(
            f"name: t\nmethod: dao\ndata: {data}\n"
            "search: {space: {lr: {type: float, low: 1.0e-5, high: 1.0e-3}}}\n"
        )
        try:
            make_plans(load_job(job))
        except SpecError as e:
            return str(e.problems[0])
        return ""

    assert "no column 'text'; its columns: sentence, polarity" in problem(
        "{source: hf, path: ./saved}"
    )
    columns = "columns: {text: sentence, score: polarity}"
    assert problem(f"{{source: hf, path: ./saved, {columns}, test_split: test}}") == ""
    assert "no split 'dev'; its splits: train, test" in problem(
        f"{{source: hf, path: ./saved, {columns}, test_split: dev}}"
    )
