"""The cost ledger's arithmetic (driver/cost.py) and its prices (job/pricing.py): a trial's
price per hour on priced and unpriced nodes, what ASHA's early stops saved up to max_t,
the search's totals, and the refusal of bad prices."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

import pytest
from pydantic import ValidationError

from adaptune.driver.cost import Node, Pricer, node_of, totals, trial_cost, usd_per_hour
from adaptune.driver.ledger import Ledger
from adaptune.driver.results import SearchSummary, cost_line
from adaptune.job.pricing import (
    DEFAULT_USD_PER_CPU_HOUR,
    NODE_PRICE_LABEL,
    NODE_TYPE_LABEL,
    PricingSpec,
    label_price,
)

PRICES = PricingSpec(usd_per_cpu_hour=0.05, usd_per_gpu_hour=1.0)
CPU = {"CPU": 1.0}
GPU = {"CPU": 2.0, "GPU": 1.0}


@dataclass
class TuneTrial:
    """What the ledger reads of a Tune trial: its id and last result."""

    trial_id: str
    last_result: dict[str, Any] = field(default_factory=dict)


def test_a_node_without_a_price_charges_cpu_and_gpu_hours() -> None:
    local = Node("local", {"CPU": 2.0})
    assert usd_per_hour(CPU, local, PRICES) == pytest.approx(0.05)
    assert usd_per_hour(GPU, local, PRICES) == pytest.approx(2 * 0.05 + 1.0)


def test_a_priced_node_charges_the_trials_share_of_it() -> None:
    h100 = Node("gpu_8xh100", {"CPU": 192.0, "GPU": 8.0}, usd_per_hour=55.04)
    assert usd_per_hour(GPU, h100, PRICES) == pytest.approx(55.04 / 8)  # by GPUs
    cpu_node = Node("cpu_big", {"CPU": 8.0}, usd_per_hour=0.384)
    assert usd_per_hour(CPU, cpu_node, PRICES) == pytest.approx(0.384 / 8)  # by CPUs
    whole = Node("gpu_a10g", {"CPU": 8.0, "GPU": 1.0}, usd_per_hour=1.212)
    assert usd_per_hour({"CPU": 1.0, "GPU": 2.0}, whole, PRICES) == pytest.approx(1.212)  # capped
    head = Node("head", {"CPU": 0.0}, usd_per_hour=0.384)  # no share to sell: unit prices
    assert usd_per_hour(CPU, head, PRICES) == pytest.approx(0.05)


def test_ray_node_table_entries_are_priced_job_first_then_label() -> None:
    entry = {
        "NodeID": "n1",
        "Resources": {"CPU": 8.0, "GPU": 1.0},
        "Labels": {NODE_TYPE_LABEL: "gpu_a10g", NODE_PRICE_LABEL: "1.212"},
    }
    node, warning = node_of(entry, PRICES)
    assert (node.type, node.usd_per_hour, warning) == ("gpu_a10g", 1.212, None)
    override = PricingSpec(node_types={"gpu_a10g": 0.5})
    assert node_of(entry, override)[0].usd_per_hour == 0.5
    plain, _ = node_of({"NodeID": "n2", "Resources": {"CPU": 2.0}, "Labels": {}}, PRICES)
    assert (plain.type, plain.usd_per_hour) == ("local", None)
    bad = {**entry, "Labels": {NODE_TYPE_LABEL: "gpu_a10g", NODE_PRICE_LABEL: "cheap"}}
    node, warning = node_of(bad, PRICES)
    assert node.usd_per_hour is None
    assert warning is not None and "gpu_a10g" in warning and NODE_PRICE_LABEL in warning


def test_an_asha_stopped_trial_saved_its_cost_per_epoch_times_epochs_left_to_max_t() -> None:
    node = Node("local", {"CPU": 2.0})
    # stopped at epoch 1 of 4 after 720 s: 0.2 h for one epoch, 3 epochs not run
    result = {"time_total_s": 720.0, "epoch": 1, "epochs": 4}
    spent = trial_cost(result, True, CPU, node, PRICES, max_t=4)
    assert spent.hours == pytest.approx(0.2)
    assert spent.usd == pytest.approx(0.2 * 0.05)
    assert spent.saved_hours == {"CPU": pytest.approx(0.6)}
    assert spent.usd_saved == pytest.approx(0.6 * 0.05)
    # max_t below the trial's epochs bounds what it would have run
    capped = trial_cost(result, True, CPU, node, PRICES, max_t=2)
    assert capped.usd_saved == pytest.approx(0.2 * 0.05)
    completed = trial_cost({**result, "epoch": 4}, False, CPU, node, PRICES, max_t=4)
    assert completed.usd_saved == 0.0 and completed.saved_hours == {"CPU": 0.0}
    nothing = trial_cost({}, False, CPU, Node("unknown"), PRICES, max_t=4)  # errored at once
    assert (nothing.hours, nothing.usd) == (0.0, 0.0)


def test_the_ledger_sums_a_search_with_asha_stops() -> None:
    trials = [
        TuneTrial("a", {"time_total_s": 1440.0, "epoch": 4, "epochs": 4}),  # 0.4 h, done
        TuneTrial("b", {"time_total_s": 360.0, "epoch": 1, "epochs": 4}),  # 3 epochs left
        TuneTrial("c", {"time_total_s": 720.0, "epoch": 2, "epochs": 4}),  # 2 epochs left
    ]
    pricer = Pricer(PRICES, CPU, max_t=4)
    # node ids absent: no lookup in Ray; the recorder's entry for "a" is used as given
    ledger = Ledger(trials)  # b and c reported fewer epochs than they had: stopped
    ledger.entry("a").cost = trial_cost(trials[0].last_result, False, CPU, Node("local"), PRICES, 4)
    spend = totals(ledger, pricer)
    assert all(e.cost is not None for e in ledger.entries.values())  # b and c priced here
    summary = SearchSummary(
        search="s", parent_run_id="run", tracking_uri="uri", metric="val/mse", mode="min",
        **dataclasses.asdict(spend),
    )  # fmt: skip
    assert summary.resource_hours == {"CPU": pytest.approx(0.4 + 0.1 + 0.2)}
    assert summary.saved_hours == {"CPU": pytest.approx(0.3 + 0.2)}
    assert summary.cost_usd == pytest.approx(0.7 * 0.05)
    assert summary.usd_saved == pytest.approx(0.5 * 0.05)
    assert summary.node_usd == {
        "local": pytest.approx(0.4 * 0.05),
        "unknown": pytest.approx(0.3 * 0.05),
    }
    assert (
        cost_line(summary)
        == "cost $0.0350 (local $0.0200, unknown $0.0150); saved by early stopping $0.0250"
    )
    assert cost_line(summary) in summary.lines()


def test_default_prices_charge_the_embedded_cluster_a_cpu_hour_price() -> None:
    assert PricingSpec().usd_per_cpu_hour == DEFAULT_USD_PER_CPU_HOUR > 0
    assert usd_per_hour(CPU, Node("local", {"CPU": 2.0}), PricingSpec()) > 0


@pytest.mark.parametrize(
    "fields",
    [
        {"usd_per_cpu_hour": -1.0},
        {"usd_per_gpu_hour": float("inf")},
        {"node_types": {"gpu_a10g": float("nan")}},
        {"node_types": {"gpu_a10g": -0.1}},
        {"usd_per_tpu_hour": 1.0},
    ],
)
def test_bad_prices_are_refused(fields: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        PricingSpec(**fields)


@pytest.mark.parametrize("text", ["-1", "nan", "inf", "1,2", ""])
def test_a_bad_price_label_names_its_node_type_and_label(text: str) -> None:
    with pytest.raises(ValueError, match=rf"node type gpu_a10g: label {NODE_PRICE_LABEL}="):
        label_price({NODE_PRICE_LABEL: text}, "gpu_a10g")
    assert label_price({}, "gpu_a10g") is None
    assert label_price({NODE_PRICE_LABEL: "0"}) == 0.0


def test_a_custom_resource_is_placement_not_billed_hours() -> None:
    # an accelerator_type request (the local autoscaling rehearsal) is not an hour to bill
    pricer = Pricer(PRICES, {"CPU": 1.0, "accelerator_type:A10G": 0.001}, max_t=4)
    assert pricer.per_trial == {"CPU": 1.0}
