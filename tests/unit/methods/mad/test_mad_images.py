"""MAD's image sources: the ImageFolder and Visual Decathlon layouts (tests/fixtures/mad),
per-domain classes and normalisation, loader workers, a base from a checkpoint, and what
validate refuses (file, line and key)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch
from tests.conftest import ROOT, write
from torch.utils.data import DataLoader

from adaptune.cli import main
from adaptune.job.spec import DataSpec, SpecError, load_job
from adaptune.methods import get_method
from adaptune.methods.mad.compare import arm_rows, domains_of
from adaptune.methods.mad.config import MADConfig
from adaptune.methods.mad.images import IMAGE_SOURCES, LayoutError, list_domains
from adaptune.methods.mad.model import MADNet, ResNet26
from adaptune.methods.mad.step import train_loader
from adaptune.plan import make_plans

FIXTURES = ROOT / "tests" / "fixtures" / "mad"
FOLDER, DECATHLON = FIXTURES / "image-folder", FIXTURES / "decathlon"
TINY = MADConfig(width=4, pretrain_epochs=1, batch_size=4, epochs=1)


def folder_data(**kw: object) -> DataSpec:
    base = {"source": "image-folder", "path": str(FOLDER), "test_split": "test"}
    base.update({"val_fraction": 0.25, "options": {"size": 8}}, **kw)
    return DataSpec.model_validate(base)


def test_image_folder_lists_domains_classes_and_splits() -> None:
    photo, sketch = list_domains(folder_data())
    assert (photo.name, photo.classes) == ("photo", ["cross", "hbar", "vbar"])
    assert (sketch.name, sketch.classes) == ("sketch", ["hbar", "vbar"])
    assert len(photo.splits["train"]) == 18 and len(sketch.splits["test"]) == 4
    assert {c for _, c in sketch.splits["train"]} == {0, 1}
    assert all(Path(p).parent.name == sketch.classes[c] for p, c in sketch.splits["train"])


def test_decathlon_reads_coco_annotations_by_image_id_and_sorted_category() -> None:
    data = DataSpec(source="decathlon", path=str(DECATHLON), test_split="val")
    aircraft, imagenet = list_domains(data)
    assert aircraft.classes == ["aircraft-0", "aircraft-1"] and len(imagenet.classes) == 3
    doc = json.loads((DECATHLON / "annotations" / "aircraft_train.json").read_text())
    files = {i["id"]: i["file_name"] for i in doc["images"]}
    cats = sorted(c["id"] for c in doc["categories"])
    want = [
        (str(DECATHLON / files[a["image_id"]]), cats.index(a["category_id"]))
        for a in doc["annotations"]
    ]
    assert aircraft.splits["train"] == want and len(aircraft.splits["val"]) == 4


def test_build_data_per_domain_heads_stats_and_source(tmp_path: Path) -> None:
    method = get_method("mad")
    train, val, test, info = method.build_data(TINY, folder_data(), str(tmp_path))
    assert info["domains"] == ["photo", "sketch"] and info["classes"] == [3, 2]
    assert info["source_index"] == 0 and info["num_classes"] == 3  # base pretrained on photo
    assert set(train.domains.tolist()) == {1}  # the source never trains
    assert set(val.domains.tolist()) == {0, 1} and len(test) == 6 + 4
    # each domain normalised by its own train statistics: sketch's train images ~ N(0, 1)
    x = torch.stack([train[i][0] for i in range(len(train))])
    assert abs(float(x.mean())) < 0.3 and 0.6 < float(x.std()) < 1.4
    assert info["mean"][0] != info["mean"][1]
    model = method.build_model(TINY, info)
    assert isinstance(model, MADNet) and [h.out_features for h in model.heads] == [3, 2]
    assert model(x[:2], 1).shape == (2, 2) and model.names == ["photo", "sketch"]


def test_given_stats_domains_subset_and_per_class(tmp_path: Path) -> None:
    options = {"size": 8, "mean": [0.5, 0.5, 0.5], "std": [0.25, 0.25, 0.25]}
    options |= {"domains": ["sketch", "photo"], "source_domain": "photo", "per_class": 2}
    _, _, _, info = get_method("mad").build_data(TINY, folder_data(options=options), None)
    assert info["domains"] == ["sketch", "photo"] and info["source_index"] == 1
    assert info["mean"] == [[0.5] * 3] * 2 and info["n_train"] == 2 * 2  # sketch: 2 classes


def test_train_loader_batches_one_domain_in_worker_processes(tmp_path: Path) -> None:
    data = folder_data(options={"size": 8, "num_workers": 2, "source_domain": "photo"})
    train, _, _, _ = get_method("mad").build_data(TINY, data, str(tmp_path))
    assert train.loader_options["num_workers"] == 2
    loader = train_loader(train, TINY, torch.Generator().manual_seed(0), 0, 1)
    batches = list(loader)
    assert len(batches) == len(loader) >= 1
    for x, _, d in batches:
        assert x.shape == (4, 3, 8, 8) and len(set(d.tolist())) == 1
    assert DataLoader(train, batch_size=3, **train.loader_options).num_workers == 2


def test_a_checkpoint_starts_the_base(tmp_path: Path) -> None:
    net = ResNet26(4, 3)
    torch.save(net.state_dict(), tmp_path / "base.pt")
    cfg = MADConfig(width=4, batch_size=4, checkpoint=str(tmp_path / "base.pt"))
    _, _, _, info = get_method("mad").build_data(cfg, folder_data(), None)
    assert info["source_index"] is None  # a checkpoint and no source_domain: all adapted
    for k, v in net.state_dict().items():
        assert torch.equal(info["base_state"][k], v)


# --- what validate refuses, naming file, line and key


JOB = """\
name: img
method: mad
data:
  source: {source}
  path: {path}
  test_split: {test}
  val_fraction: 0.25
  options: {options}
fixed: {fixed}
search:
  space: {{rank: {{type: categorical, choices: [2, 0]}}}}
  num_samples: 2
resources: {{workers_per_trial: 1, cpus_per_worker: 1}}
"""


def refusal(tmp_path: Path, **kw: str) -> str:
    values = {"source": "image-folder", "path": str(FOLDER), "test": "test"}
    values |= {"options": "{size: 8}", "fixed": "{width: 4, batch_size: 4}"} | kw
    job = write(tmp_path / "job.yaml", JOB.format(**values))
    with pytest.raises(SpecError) as e:
        make_plans(load_job(job))
    (problem,) = e.value.problems
    return str(problem)


def copy_of(src: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(src, tmp_path / src.name))


def test_the_fixture_jobs_validate(tmp_path: Path) -> None:
    for source, path, test in (("image-folder", FOLDER, "test"), ("decathlon", DECATHLON, "val")):
        text = JOB.format(
            source=source, path=path, test=test, options="{size: 8}", fixed="{width: 4}"
        )
        assert make_plans(load_job(write(tmp_path / f"{source}.yaml", text)))


def test_a_missing_folder_is_refused(tmp_path: Path) -> None:
    msg = refusal(tmp_path, path=str(tmp_path / "nowhere"))
    assert msg.endswith(f"job.yaml:5: data.path: no folder at {tmp_path / 'nowhere'}")


def test_a_domain_without_the_split_is_refused(tmp_path: Path) -> None:
    root = copy_of(FOLDER, tmp_path)
    shutil.rmtree(root / "sketch" / "test")
    msg = refusal(tmp_path, path=str(root))
    assert "job.yaml:6: data.test_split: domain 'sketch' has no 'test' split" in msg


def test_an_unknown_domain_is_refused_with_the_ones_there(tmp_path: Path) -> None:
    msg = refusal(tmp_path, options="{size: 8, domains: [photo, clipart]}")
    assert "job.yaml:8: data.options.domains: no domain 'clipart'" in msg
    assert msg.endswith("there: photo, sketch")


def test_an_unreadable_image_is_refused_by_name(tmp_path: Path) -> None:
    root = copy_of(FOLDER, tmp_path)
    bad = root / "sketch" / "train" / "vbar" / "3.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    msg = refusal(tmp_path, path=str(root))
    assert f"job.yaml:5: data.path: {bad}: not a readable image" in msg


def test_an_annotation_naming_a_missing_file_is_refused(tmp_path: Path) -> None:
    root = copy_of(DECATHLON, tmp_path)
    ann = root / "annotations" / "aircraft_val.json"
    doc = json.loads(ann.read_text())
    doc["images"][2]["file_name"] = "data/aircraft/val/gone.png"
    ann.write_text(json.dumps(doc))
    msg = refusal(tmp_path, source="decathlon", path=str(root), test="val")
    assert f"job.yaml:5: data.path: {ann}: images[2] (id " in msg
    assert "no file 'data/aircraft/val/gone.png'" in msg


def test_a_checkpoint_of_other_shapes_names_the_first_mismatching_key(tmp_path: Path) -> None:
    torch.save(ResNet26(8, 3).state_dict(), tmp_path / "w8.pt")
    msg = refusal(tmp_path, fixed=f"{{width: 4, checkpoint: {tmp_path / 'w8.pt'}}}")
    assert msg.endswith(
        f"job.yaml:9: fixed.checkpoint: {tmp_path / 'w8.pt'}: 'conv1.weight' has shape "
        "(8, 3, 3, 3), the model (width 4, 3 classes) expects (4, 3, 3, 3); its conv1 has "
        "8 filters: set fixed.width to that"
    )


def test_a_checkpoint_whose_head_misses_the_source_classes_is_refused(tmp_path: Path) -> None:
    torch.save(ResNet26(4, 5).state_dict(), tmp_path / "c5.pt")
    fixed = f"{{width: 4, checkpoint: {tmp_path / 'c5.pt'}}}"
    msg = refusal(tmp_path, fixed=fixed, options="{size: 8, source_domain: sketch}")
    assert "fixed.checkpoint:" in msg and "'fc.weight' has shape (5, 32)" in msg


def test_a_missing_or_unreadable_checkpoint_is_refused(tmp_path: Path) -> None:
    msg = refusal(tmp_path, fixed="{width: 4, checkpoint: gone.pt}")
    assert msg.endswith(
        f"job.yaml:9: fixed.checkpoint: no checkpoint file at {tmp_path / 'gone.pt'}"
    )
    write(tmp_path / "junk.pt", "not a checkpoint")
    msg = refusal(tmp_path, fixed="{width: 4, checkpoint: junk.pt}")
    assert "fixed.checkpoint: " in msg and "not a readable torch state dict" in msg


def test_a_matching_checkpoint_passes_and_is_made_absolute(tmp_path: Path) -> None:
    torch.save(ResNet26(4, 3).state_dict(), tmp_path / "ok.pt")
    text = JOB.format(
        source="image-folder",
        path=FOLDER,
        test="test",
        options="{size: 8, source_domain: photo}",
        fixed="{width: 4, checkpoint: ok.pt}",
    )
    (plan,) = make_plans(load_job(write(tmp_path / "job.yaml", text)))
    assert plan.job.fixed["checkpoint"] == str(tmp_path / "ok.pt")


def test_the_paper_job_validates_against_the_decathlon_fixture() -> None:
    job = str(ROOT / "jobs" / "mad_paper.yaml")
    assert main(["validate", job, "--set", f"data.path={DECATHLON}"]) == 0


def test_layout_error_carries_its_key() -> None:
    with pytest.raises(LayoutError) as e:
        list_domains(folder_data(test_split="holdout"))
    assert e.value.key == "data.test_split"


def test_image_sources_are_declared_and_compared_by_their_own_domains() -> None:
    assert set(IMAGE_SOURCES) <= set(get_method("mad").data_sources)
    rows = {
        arm: [
            {"test/acc": 0.5, "test/acc/sketch": a, "test/acc/photo": 0.5, "seed": s}
            for s in (0, 1)
        ]
        for arm, a in (("finetune", 0.6), ("mad", 0.7))
    }
    assert domains_of(rows) == ["sketch", "photo"]
    by_arm = {r["arm"]: r for r in arm_rows(rows, "finetune")}
    assert by_arm["finetune"]["score"] == pytest.approx(500.0)  # 250 a domain
    assert by_arm["mad"]["acc/sketch"] == pytest.approx(0.7)


def test_image_options_are_refused_for_the_digits(tmp_path: Path) -> None:
    job = JOB.format(
        source="digits-decathlon",
        path="null",
        test="null",
        options="{size: 8, num_workers: 2}",
        fixed="{width: 4}",
    )
    with pytest.raises(SpecError) as e:
        make_plans(load_job(write(tmp_path / "job.yaml", job)))
    (problem,) = e.value.problems
    assert "job.yaml:8: data.options.num_workers: read by the image sources" in str(problem)


def test_adaptune_data_reports_an_image_in_two_splits_by_its_bytes(tmp_path: Path) -> None:
    """The same image planted in train and test is found by its bytes, under another name."""
    from adaptune.data.checks import check_splits

    root = tmp_path / "images"
    shutil.copytree(FOLDER, root)
    shutil.copy(root / "sketch/train/hbar/0.png", root / "sketch/test/hbar/planted.png")
    splits = get_method("mad").read_splits(folder_data(path=str(root)))
    assert set(splits) == {"train", "val", "test", "pretrain"}  # pretrain: photo's train
    assert set(splits["test"]["domain"]) == {"photo", "sketch"}
    report = check_splits(splits, batch_size=2)
    assert sum(report.duplicates.values()) == 1, report.warnings
    clean = check_splits(get_method("mad").read_splits(folder_data()), batch_size=2)
    assert not clean.duplicates
