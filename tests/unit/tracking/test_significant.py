"""Evidence-gated promotion on a real SQLite MLflow store: the alias compares validation
scores (the seeded re-runs' mean val), never test; under ``rule: significant`` a
candidate whose gain is inside the noise of its re-runs is refused, one far outside it
is promoted, and the champion version carries its per-seed val scores and its test
metrics (reported only) as tags."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from mlflow import MlflowClient

from adaptune import tracking
from adaptune.tracking.names import Kind, Status, Tag

METRIC = "val/acc"


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    state = tmp_path_factory.mktemp("significant") / "state"
    client = tracking.setup(tracking.resolve_uri(None, state))
    exp = tracking.ensure_experiment(client, "significant", state)
    yield {"client": client, "exp": exp, "state": state, "n": [0]}


def search_with_reruns(
    store: dict[str, Any],
    scores: list[float],
    test: list[float] | None = None,
    domains: dict[str, list[float]] | None = None,
) -> Any:
    """A finished search whose chosen trial has a model, and whose re-runs scored `scores`
    on val and `test` on test (what driver/final.py records)."""
    client: MlflowClient = store["client"]
    store["n"][0] += 1
    name = f"sig{store['n'][0]}"
    tags = {Tag.KIND: Kind.SEARCH, Tag.SEARCH: name, Tag.DATA_FINGERPRINT: "same-data"}
    parent = client.create_run(store["exp"], run_name=name, tags=tags).info.run_id
    trial = client.create_run(
        store["exp"],
        run_name="t1",
        tags={"mlflow.parentRunId": parent, Tag.TRIAL_ID: "t1", Tag.STATUS: Status.COMPLETED},
    ).info.run_id
    folder = store["state"] / "models" / name
    folder.mkdir(parents=True)
    (folder / "weights.txt").write_text(name)
    client.log_artifact(trial, str(folder / "weights.txt"), "model")
    client.set_tag(trial, Tag.MODEL_URI, client.get_run(trial).info.artifact_uri + "/model")
    test = test or [0.5] * len(scores)
    client.log_metric(trial, METRIC, 0.99)  # the selection value: never compared
    client.log_metric(trial, "test/acc", test[0])
    for key, values in ((METRIC, scores), ("test/acc", test)):
        client.log_metric(parent, f"{key}_mean", sum(values) / len(values))
    client.set_tag(parent, Tag.VAL_SCORES, ",".join(repr(s) for s in scores))
    client.set_tag(parent, Tag.TEST_SCORES, ",".join(repr(s) for s in test))
    client.set_tag(parent, Tag.BEST_TRIAL, "t1")
    if domains:  # what driver/final.py records for val/acc/<domain>
        client.set_tag(parent, Tag.VAL_DOMAIN_SCORES, json.dumps(domains))
    return client.get_run(parent)


def promote(store: dict[str, Any], run: Any, model: str) -> Any:
    return tracking.promote(
        store["client"], run, model, "champion", METRIC, "max", rule="significant"
    )


def test_a_gain_inside_the_noise_is_refused_and_one_far_outside_it_promoted(
    store: dict[str, Any],
) -> None:
    first = promote(store, search_with_reruns(store, [0.80, 0.84, 0.76]), "sig")
    assert first.promoted  # nothing to beat yet
    noisy = promote(store, search_with_reruns(store, [0.83, 0.77, 0.85]), "sig")
    assert not noisy.promoted and "inside the noise" in noisy.reason, noisy.reason
    clear = promote(store, search_with_reruns(store, [0.95, 0.96, 0.955]), "sig")
    assert clear.promoted, clear.reason
    mv = store["client"].get_model_version_by_alias("sig", "champion")
    assert str(mv.version) == clear.version
    assert mv.tags[Tag.VALUE_KIND] == "val mean of 3 seeds"
    assert float(mv.tags[Tag.VALUE]) == pytest.approx(0.955)
    assert mv.tags[Tag.VAL_SCORES].count(",") == 2
    assert float(mv.tags[Tag.TEST_PREFIX + "acc_mean"]) == pytest.approx(0.5)  # reported


def test_significant_needs_seeds_on_both_sides(store: dict[str, Any]) -> None:
    assert promote(store, search_with_reruns(store, [0.70]), "single").promoted
    again = promote(store, search_with_reruns(store, [0.99]), "single")
    assert not again.promoted and "needs final.seeds >= 2" in again.reason


def test_better_compares_the_reruns_val_not_the_selection_value(store: dict[str, Any]) -> None:
    client = store["client"]
    low = search_with_reruns(store, [0.70, 0.71])
    assert tracking.promote(client, low, "better", "champion", METRIC, "max").promoted
    high = search_with_reruns(store, [0.72, 0.73])  # same selection value (0.99)
    result = tracking.promote(client, high, "better", "champion", METRIC, "max")
    assert result.promoted and result.value == pytest.approx(0.725)


def test_better_on_test_but_worse_on_val_is_not_promoted(store: dict[str, Any]) -> None:
    client = store["client"]
    first = search_with_reruns(store, [0.80, 0.81], test=[0.60, 0.61])
    assert tracking.promote(client, first, "test-blind", "champion", METRIC, "max").promoted
    rival = search_with_reruns(store, [0.78, 0.79], test=[0.90, 0.91])
    result = tracking.promote(client, rival, "test-blind", "champion", METRIC, "max")
    assert not result.promoted and "does not beat" in result.reason, result.reason


def test_a_champion_promoted_on_test_is_not_compared_with_val(store: dict[str, Any]) -> None:
    client = store["client"]
    run = search_with_reruns(store, [0.80, 0.81])
    assert tracking.promote(client, run, "legacy", "champion", METRIC, "max").promoted
    mv = client.get_model_version_by_alias("legacy", "champion")
    client.set_model_version_tag("legacy", mv.version, Tag.VALUE_KIND, "test mean of 2 seeds")
    again = tracking.promote(
        client, search_with_reruns(store, [0.9, 0.91]), "legacy", "champion", METRIC, "max"
    )
    assert not again.promoted and "promoted on a test mean of 2 seeds score" in again.reason


def test_no_domain_regresses_refuses_a_gain_that_costs_a_domain(store: dict[str, Any]) -> None:
    """A better mean that drops one domain clearly is refused naming it; one where no
    domain drops beyond the noise is promoted; without per-domain seeds it says so."""
    client = store["client"]

    def promote_domains(scores: list[float], domains: dict[str, list[float]]) -> Any:
        run = search_with_reruns(store, scores, domains=domains)
        rule = "no_domain_regresses"
        return tracking.promote(client, run, "dom", "champion", METRIC, "max", rule=rule)

    held = {"books": [0.80, 0.81, 0.79], "dvd": [0.70, 0.71, 0.69], "kitchen": [0.60, 0.62, 0.61]}
    assert promote_domains([0.70, 0.71, 0.70], held).promoted
    dropped = {
        "books": [0.95, 0.96, 0.97],
        "dvd": [0.90, 0.91, 0.92],
        "kitchen": [0.40, 0.41, 0.40],
    }
    refused = promote_domains([0.75, 0.76, 0.76], dropped)
    assert not refused.promoted and "kitchen" in refused.reason, refused.reason
    assert "books" not in refused.reason and "dvd" not in refused.reason
    none_worse = {
        "books": [0.85, 0.86, 0.84],
        "dvd": [0.72, 0.70, 0.71],
        "kitchen": [0.61, 0.60, 0.62],
    }
    assert promote_domains([0.72, 0.73, 0.72], none_worse).promoted
    mv = client.get_model_version_by_alias("dom", "champion")
    assert json.loads(mv.tags[Tag.VAL_DOMAIN_SCORES])["kitchen"] == [0.61, 0.60, 0.62]
    missing = promote_domains([0.80, 0.81, 0.80], {})
    assert not missing.promoted and "per-domain val scores" in missing.reason
