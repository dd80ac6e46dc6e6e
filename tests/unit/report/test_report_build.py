"""Reports from an MLflow store alone: searches, a resumed one, champions, a multi-stage
job with its per-domain comparison, and the CLI. The store is written here by hand, the
way the search driver writes it (no Ray)."""

from __future__ import annotations

import csv
import io
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from mlflow import MlflowClient
from mlflow.entities import Metric, Param
from optuna.distributions import (
    CategoricalDistribution,
    FloatDistribution,
    distribution_to_json,
)

from adaptune import tracking
from adaptune.cli import main
from adaptune.report import build_report, report_quietly

SPACE = {"lr": FloatDistribution(1e-5, 1e-2, log=True), "rank": CategoricalDistribution([4, 8])}
OURS = {
    "trials.csv",
    "best_so_far.csv",
    "best_so_far.png",
    "curves.png",
    "importance.csv",
    "importance.png",
    "parallel_coordinates.png",
    "slice_lr.png",
    "slice_rank.png",
    "rungs.csv",
    "rungs.png",
    "report.html",
}


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    root = tmp_path_factory.mktemp("store")
    uri = f"sqlite:///{root / 'mlflow.db'}"
    # mlflow.set_tracking_uri exports MLFLOW_TRACKING_URI: undone after this module, so
    # later modules' searches do not log into this store.
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MLFLOW_TRACKING_URI", uri)
        client = tracking.setup(uri)
        experiment = tracking.ensure_experiment(client, "reports", root)
        yield {"root": root, "client": client, "experiment": experiment}


def _search(
    store: dict[str, Any],
    name: str,
    trials: list[tuple[str, str, list[float], dict[str, str]]],
    parent: str | None = None,
    space: dict[str, Any] | None = SPACE,
    experiment: str | None = None,
) -> str:
    """A search run like run_search writes it; trials: (id, status tag, values, params)."""
    client: MlflowClient = store["client"]
    tags = {
        "adaptune.kind": "search",
        "adaptune.search": name,
        "adaptune.method": "dao",
        "adaptune.metric": "val/mse",
        "adaptune.mode": "min",
        "adaptune.model_name": "m",
        "adaptune.alias": "champion",
        **({"mlflow.parentRunId": parent} if parent else {}),
    }
    experiment = experiment or store["experiment"]
    run = client.create_run(experiment, run_name=name, tags=tags).info.run_id
    settings = {
        "scheduler.type": "asha",
        "scheduler.grace_period": "1",
        "scheduler.reduction_factor": "2.0",
        "max_t": "2",
        "resources.workers_per_trial": "1",
        "resources.cpus_per_worker": "1.0",
        "search.space": "space.yaml",
        "search.sampler": "tpe",
    }
    client.log_batch(run, params=[Param(k, v) for k, v in settings.items()])
    if space is not None:  # None: an older search, recorded before spec/space.json
        client.log_dict(
            run, {k: distribution_to_json(d) for k, d in space.items()}, "spec/space.json"
        )
    now = int(time.time() * 1000)
    best = None
    for i, (tid, status, values, params) in enumerate(trials):
        trial = client.create_run(
            experiment,
            run_name=tid,
            tags={"mlflow.parentRunId": run, "adaptune.trial_id": tid, "adaptune.status": status},
        ).info.run_id
        metrics = []
        for epoch, v in enumerate(values, start=1):
            at = now + 1000 * (i + epoch)
            metrics += [
                Metric("val/mse", v, at, epoch),
                Metric("epoch", epoch, at, epoch),
                Metric("epoch_time_s", 2.0, at, epoch),
                Metric("time_total_s", 30.0 + 2 * epoch, at, epoch),
            ]
        client.log_batch(trial, metrics=metrics, params=[Param(k, v) for k, v in params.items()])
        if status == "completed" and (best is None or values[-1] < best):
            best = values[-1]
    if best is not None:
        client.log_metric(run, "best/val/mse", best)
    client.log_metric(run, "wall_s", 120.0)
    return run


def _trials(n: int) -> list[tuple[str, str, list[float], dict[str, str]]]:
    out = []
    for i in range(n):
        params = {"lr": str(10 ** (-5 + 0.6 * i)), "rank": str(4 if i % 2 else 8), "epochs": "2"}
        if i % 3 == 0:
            out.append((f"t{i}", "completed", [0.5 - 0.05 * i, 0.4 - 0.05 * i], params))
        else:
            out.append((f"t{i}", "stopped by ASHA at epoch 1", [0.6 - 0.01 * i], params))
    return out


def _artifact(client: MlflowClient, run_id: str, name: str, dest: Path) -> str:
    return Path(client.download_artifacts(run_id, f"report/{name}", str(dest))).read_text()


def test_search_report_logs_every_artifact_and_one_csv_row_per_trial(
    store: dict[str, Any], tmp_path: Path
) -> None:
    client = store["client"]
    trials = _trials(6)
    # A resumed search re-created t0's run, which got only one epoch: t0 is kept once.
    trials.append(("t0", "running", [0.9], trials[0][3]))
    run = _search(store, "search-a", trials)
    report = build_report(client, "search-a", store["root"])
    assert report.run_id == run
    listed = {Path(a.path).name for a in client.list_artifacts(run, "report")}
    assert listed >= OURS
    rows = list(csv.DictReader(io.StringIO(_artifact(client, run, "trials.csv", tmp_path))))
    assert sorted(r["trial_id"] for r in rows) == [f"t{i}" for i in range(6)]
    t0 = next(r for r in rows if r["trial_id"] == "t0")
    assert (t0["status"], t0["epochs_run"], t0["best_value"]) == ("completed", "2", "0.4")
    page = report.html.read_text()
    assert report.html == store["root"] / "reports" / "search-a.html"
    # learning curves, best so far, importance, parallel, 2 slices, rungs
    assert page.count("data:image/png;base64,") == 7
    assert "ASHA rungs" in page and "Parameter importance" in page
    assert "Learning curves" in page
    # the best trial is highlighted and, like every trial, links to its run in the UI
    experiment = client.get_run(run).info.experiment_id
    best_run = next(r["run_id"] for r in rows if r["trial_id"] == page_best(page))
    assert f"http://127.0.0.1:5000/#/experiments/{experiment}/runs/{best_run}?workflow" in page
    assert page.count('<tr class="best">') == 1
    assert "% of the full cost" in page or "saved by early stopping" not in page


def page_best(page: str) -> str:
    """The trial id the page names as the best."""
    return page.split("Best trial ", 1)[1].split(":", 1)[0]


def test_champion_section_compares_with_the_previous_champion(
    store: dict[str, Any], tmp_path: Path
) -> None:
    client: MlflowClient = store["client"]
    runs = {s: _search(store, s, _trials(3)) for s in ("old", "new")}
    client.create_registered_model("m")
    for version_of, value, test in (("old", "0.5", "0.61"), ("new", "0.3", "0.42")):
        client.create_model_version(
            "m",
            f"runs:/{runs[version_of]}/model",
            runs[version_of],
            tags={
                "adaptune.search": version_of,
                "adaptune.value": value,
                "adaptune.value_kind": "val",
                "adaptune.test.mse": test,
            },
        )
    client.set_registered_model_alias("m", "champion", "2")
    new = build_report(client, "new", store["root"]).html.read_text()
    assert "m v2 from this search holds @champion." in new
    assert "Against previous champion v1: val/mse 0.3 vs 0.5 (-0.2, better; lower is" in new
    # val and test each under its own name: <th>val/mse</th><th>test/mse</th>, 0.3 then 0.42
    champion = new.split("<h2>Champion", 1)[1].split("<h2>", 1)[0]
    assert "<th>val/mse</th><th>test/mse</th>" in champion and "value" not in champion
    assert "<td>0.3</td><td>0.42</td>" in champion and "<td>0.5</td><td>0.61</td>" in champion
    old = build_report(client, "old", store["root"]).html.read_text()
    assert "m v1 from this search was promoted; @champion has since moved on." in old
    assert "Against current @champion v2: val/mse 0.5 vs 0.3 (+0.2, worse" in old


def test_the_trials_table_is_best_first_with_test_and_links_to_the_ui_given(
    store: dict[str, Any],
) -> None:
    """Best first by what the search selects on (the chosen trial, then completed ones by
    their last val, then stopped ones), the chosen trial's test score in its column,
    trials.csv to download, and every link on the UI address given."""
    client: MlflowClient = store["client"]
    run = _search(store, "ordered", _trials(7))  # completed t0 0.4, t3 0.25, t6 0.1
    chosen = next(
        r for r in tracking.trial_runs(client, client.get_run(run)) if r.info.run_name == "t3"
    )
    client.set_tag(run, "adaptune.best_trial", "t3")
    client.log_metric(chosen.info.run_id, "test/mse", 0.33)
    uri = client.tracking_uri
    argv = ["--state-dir", str(store["root"]), "report", "ordered", "--tracking-uri", uri]
    assert main([*argv, "--ui-url", "http://mlflow.example:8080/"]) == 0
    page = (store["root"] / "reports" / "ordered.html").read_text()
    table = page.split("<h2>Trials (7)</h2>", 1)[1]
    order = [table.split(f">{t}</a>")[0].count("<tr") for t in ("t3", "t6", "t0", "t1")]
    assert order == sorted(order) and len(set(order)) == 4, order
    assert "<th>last_val/mse</th>" in table and "<th>test/mse</th>" in table
    assert ">0.33</td>" in table.split(">t3</a>", 1)[1].split("</tr>", 1)[0]
    assert '<a download="trials.csv" href="data:text/csv;base64,' in table
    assert "127.0.0.1:5000" not in page and "at http://mlflow.example:8080/;" in page
    assert 'href="http://mlflow.example:8080/#/experiments/' in page


def test_job_report_has_a_section_per_stage_and_the_domain_comparison(
    store: dict[str, Any], tmp_path: Path
) -> None:
    from matplotlib.figure import Figure

    client: MlflowClient = store["client"]
    job = client.create_run(
        store["experiment"],
        run_name="dama-job",
        tags={
            "adaptune.kind": "job",
            "adaptune.method": "dama",
            "adaptune.dama.degraded_domains": "none",
        },
    ).info.run_id
    one = [
        (f"s{i}", "completed", [0.5, 0.4 - 0.01 * i], {"lr": str(1e-4 * (i + 1))}) for i in range(4)
    ]
    lr = {"lr": SPACE["lr"]}
    _search(store, "stage-one", one, parent=job, space=lr)
    # A stage may log to its own experiment.
    other = tracking.ensure_experiment(client, "reports-stage-two", store["root"])
    _search(store, "stage-two", one, parent=job, space=lr, experiment=other)
    (tmp_path / "report").mkdir()
    (tmp_path / "report" / "domains.csv").write_text(
        "domain,stage1,stage2,delta\nbooks,0.8,0.85,0.05\noverall,0.8,0.85,0.05\n"
    )
    fig = Figure()
    fig.add_subplot().bar(["books"], [0.85])
    fig.savefig(tmp_path / "report" / "domains.png")
    client.log_artifacts(job, str(tmp_path / "report"), "report")

    report = build_report(client, "dama-job", store["root"])
    page = report.html.read_text()
    assert "Stage 1: stage-one" in page and "Stage 2: stage-two" in page
    assert "Across the stages or arms" in page
    assert "books" in page and "adaptune.dama.degraded_domains: none" in page
    assert 'alt="domains.png"' in page
    assert page.count("Only one parameter (lr) was searched") == 2
    assert page.count('alt="slice_lr"') == 2
    assert "report.html" in {Path(a.path).name for a in client.list_artifacts(job, "report")}


def test_a_search_without_its_recorded_space_is_refused(store: dict[str, Any]) -> None:
    _search(store, "old", _trials(2), space=None)
    with pytest.raises(LookupError, match="recorded by an older adaptune"):
        build_report(store["client"], "old", store["root"])


def test_a_failed_report_only_warns(store: dict[str, Any], capsys: pytest.CaptureFixture) -> None:
    assert report_quietly(store["client"], "no-such-run", store["root"]) is None
    assert "warning: no report for run no-such-run" in capsys.readouterr().err


def test_cli_report_prints_the_page_path_and_refuses_unknown_searches(
    store: dict[str, Any], capsys: pytest.CaptureFixture
) -> None:
    _search(store, "cli", _trials(4))
    uri = store["client"].tracking_uri
    base = ["--state-dir", str(store["root"]), "report"]
    assert main([*base, "cli", "--open", "--tracking-uri", uri]) == 0
    path = Path(capsys.readouterr().out.strip())
    assert path == store["root"] / "reports" / "cli.html" and path.exists()
    assert main([*base, "nope", "--tracking-uri", uri]) == 2
    assert "no search or job called 'nope'" in capsys.readouterr().err


def test_show_ranks_trials_on_what_chose_them_and_exports_them(
    store: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    """A trial is chosen on its last epoch's val (b: 0.33), not its best epoch's (a: 0.30
    at epoch 1); show says which number is val and which test, and leaves unset settings
    out; --csv holds the same rows, best first."""
    client, params = store["client"], {"lr": "0.001", "rank": "8", "epochs": "2"}
    trials = [
        ("a", "completed", [0.30, 0.35], params),
        ("b", "completed", [0.40, 0.33], params),
        ("c", "stopped by ASHA at epoch 1", [0.31], params),
    ]
    run = _search(store, "shown", trials)
    client.log_param(run, "scheduler.max_t", "None")  # unset: the epochs
    client.set_tag(run, "adaptune.best_trial", "b")  # as the driver decided
    (b,) = [r for r in tracking.trial_runs(client, client.get_run(run)) if r.info.run_name == "b"]
    client.log_metric(b.info.run_id, "test/mse", 0.29)  # the chosen trial's test score
    out_csv = tmp_path / "trials.csv"
    argv = ["--state-dir", str(store["root"]), "--tracking-uri", client.tracking_uri]
    assert main([*argv, "show", "shown", "--csv", str(out_csv)]) == 0
    lines = [" ".join(line.split()) for line in capsys.readouterr().out.splitlines()]
    assert "best trial b: val/mse=0.33 at epoch 2 — val (selected on)" in lines
    assert "test/mse=0.29 — test (held-out, seen once)" in lines
    assert not [line for line in lines if "None" in line]
    table = lines.index("TRIAL STATUS EPOCHS VAL/MSE TEST/MSE LR RANK")
    assert [line.split()[0] for line in lines[table + 1 : table + 4]] == ["b", "a", "c"]
    with open(out_csv) as f:
        rows = list(csv.DictReader(f))
    assert [r["trial_id"] for r in rows] == ["b", "a", "c"]
    assert (rows[0]["last_val/mse"], rows[0]["test/mse"], rows[1]["test/mse"]) == (
        "0.33",
        "0.29",
        "",
    )
    assert (rows[1]["best_val/mse"], rows[2]["status"], rows[2]["stop_epoch"]) == (
        "0.3",
        "stopped",
        "1",
    )
    assert float(rows[0]["lr"]) == 0.001 and "cost_usd" in rows[0]
