"""Every private Ray and Optuna-integration symbol adaptune uses is wrapped, once, in
driver/upstream.py or train/upstream.py. This file imports each of them, so an upgrade
that moves or renames one fails here, by name, in seconds (not in a search an hour in),
and it fails when a private name is used anywhere else in the package."""

from __future__ import annotations

import importlib
import inspect
import re

import pytest
from tests.conftest import ROOT

PACKAGE = ROOT / "platform" / "adaptune"
UPSTREAM = {PACKAGE / "driver" / "upstream.py", PACKAGE / "train" / "upstream.py"}

# (module, attribute): module-level symbols the wrappers import
SYMBOLS = [
    ("ray._private.ray_constants", "ENABLE_RAY_CLUSTER"),
    ("ray._private.ray_constants", "DEBUG_AUTOSCALING_STATUS"),
    ("ray._private.ray_constants", "RAY_RUNTIME_ENV_IGNORE_GITIGNORE"),
    ("ray._raylet", "GcsClient"),
    ("ray._raylet", "GCS_AUTOSCALER_STATE_NAMESPACE"),
    ("ray._raylet", "GCS_AUTOSCALER_CLUSTER_CONFIG_KEY"),
    ("ray._raylet", "InnerGcsClient"),  # report_cluster_config: checked below
    ("ray._private.runtime_env.packaging", "_dir_travel"),
    ("ray._private.runtime_env.packaging", "_get_excludes"),
    ("ray.tune.utils.util", "warn_if_slow"),
    ("ray.tune.tune", "_setup_signal_catching"),
    ("ray._private.services", "canonicalize_bootstrap_address"),
    ("ray.train.v2._internal.execution.storage", "StorageContext"),
    ("ray.train.torch.train_loop_utils", "_WrappedDataLoader"),
    ("ray._private.authentication", None),  # AUTH_LOGGER: a logger by its module's name
]
# (module, class, attribute set on instances): read from the class's source
INSTANCE_ATTRIBUTES = [
    ("ray.tune.tuner", "Tuner", "_local_tuner"),
    ("ray.tune.result_grid", "ResultGrid", "_experiment_analysis"),
    ("ray.tune.search.optuna", "OptunaSearch", "_ot_trials"),
    ("ray.tune.search.optuna", "OptunaSearch", "_completed_trials"),
]
PRIVATE = re.compile(
    r"ray\._|\._internal\b|_local_tuner|_experiment_analysis|_ot_trials|_completed_trials"
    r"|_WrappedDataLoader|warn_if_slow|_dir_travel|_get_excludes|ENABLE_RAY_CLUSTER"
    r"|DEBUG_AUTOSCALING_STATUS|_setup_signal_catching|optuna\.[a-z_.]*\._"
)


@pytest.mark.parametrize(("module", "name"), SYMBOLS, ids=lambda x: str(x))
def test_each_wrapped_symbol_is_still_there(module: str, name: str | None) -> None:
    loaded = importlib.import_module(module)
    if name is not None:
        assert hasattr(loaded, name), f"{module}.{name} is gone: fix its wrapper in upstream.py"
    if name == "InnerGcsClient":
        assert hasattr(loaded.InnerGcsClient, "report_cluster_config")
    if name == "warn_if_slow":
        assert isinstance(loaded.warn_if_slow.DEFAULT_THRESHOLD, float | int)


@pytest.mark.parametrize(("module", "cls", "attr"), INSTANCE_ATTRIBUTES, ids=str)
def test_each_wrapped_attribute_is_still_set(module: str, cls: str, attr: str) -> None:
    source = inspect.getsource(getattr(importlib.import_module(module), cls))
    assert f"self.{attr} =" in source or f"self.{attr}:" in source, (
        f"{cls}.{attr} is no longer set by {module}: fix its wrapper in upstream.py"
    )


def test_private_names_live_in_the_upstream_modules_only() -> None:
    found = [
        f"{p.relative_to(PACKAGE)}:{n}: {line.strip()}"
        for p in sorted(PACKAGE.rglob("*.py"))
        if p not in UPSTREAM
        for n, line in enumerate(p.read_text().splitlines(), 1)
        if PRIVATE.search(line)
    ]
    assert found == []


def test_the_wrappers_run_on_a_local_path(tmp_path: object) -> None:
    """The two that need no cluster: Tune's threshold round-trips, and the working_dir
    walk sees a file as Ray's packer would."""
    from pathlib import Path

    from adaptune.driver import upstream

    before = upstream.slow_callback_threshold()
    assert upstream.slow_callback_threshold(before + 1.0) == before
    assert upstream.slow_callback_threshold(before) == before + 1.0
    root = Path(str(tmp_path))
    (root / "a.txt").write_text("x")
    (root / "skip.log").write_text("x")
    seen: list[str] = []
    upstream.walk_working_dir(root, ["*.log"], lambda p: seen.append(p.name))
    assert "a.txt" in seen and "skip.log" not in seen


def test_the_report_keys_tune_fills_come_from_ray() -> None:
    """train/report.py spells Tune's time_total_s without importing Ray; it must match."""
    from ray.tune import result

    from adaptune.train import report

    assert report.TIME_TOTAL_S == result.TIME_TOTAL_S
    assert {"training_iteration", "time_this_iter_s", "config"} <= report.ray_keys()
    assert report.reserved_in(["val/acc", "epoch", "pid"]) == ["epoch", "pid"]


def test_tune_interrupt_handler_is_reachable_and_sigint_left_alone(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """driver/interrupt.py relies on both: with TUNE_DISABLE_SIGINT_HANDLER Tune's fit
    leaves SIGINT to adaptune, and upstream.interrupt_tune reaches the event it waits on."""
    import signal

    from ray.tune.tune import _setup_signal_catching

    from adaptune.driver import upstream

    before = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGUSR1)}
    monkeypatch.setenv(upstream.TUNE_SIGINT_ENV, "1")
    try:
        signal.signal(signal.SIGUSR1, signal.SIG_DFL)
        assert upstream.interrupt_tune(signal.SIGINT) is False  # no fit running
        event = _setup_signal_catching()
        assert signal.getsignal(signal.SIGINT) is before[signal.SIGINT]
        assert not event.is_set()
        assert upstream.interrupt_tune(signal.SIGTERM) is True
        assert event.is_set()
    finally:
        for s, handler in before.items():
            signal.signal(s, handler)
