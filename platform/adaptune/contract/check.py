"""check_method: the declaration, then one tiny training run of the method's own hooks."""

from __future__ import annotations

import dataclasses
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from adaptune.contract.checker import (
    NAME,
    REQUIRED_HOOKS,
    WORKER_FIELDS,
    ContractReport,
    MethodContractError,
    Space,
    _Checker,
    _Stop,
)
from adaptune.contract.steps import _evaluate, _round_trip, _spaces, _splits, _train
from adaptune.method import Method, Optimizers, make_config
from adaptune.train.worker import train_batches


def check_method(
    method: Method,
    *,
    config: Mapping[str, Any] | None = None,
    data: Any = None,
    example: Any = None,
    spaces: Sequence[Space] = (),
    cache_dir: str | None = None,
) -> ContractReport:
    """Run the contract checks; raise MethodContractError listing every failure.

    `config`: config values for a tiny run (at least 2 training batches; keep it small,
    everything runs on this CPU). `data`: a DataSpec or its dict (default: the method's
    first data source with DataSpec's defaults). `example`: one raw prediction input (a
    list or DataFrame), or a function of the val Dataset giving one (default: the
    method's input_example). `spaces`: search space files or dicts whose names must be
    config fields. Torch's global RNG is left as it was.
    """
    import torch

    checker = _Checker(method)
    started = time.monotonic()
    try:
        _declaration(checker)
        with torch.random.fork_rng(devices=[]), tempfile.TemporaryDirectory() as tmp:
            torch.manual_seed(0)
            _run(checker, dict(config or {}), data, example, tmp, cache_dir)
    except _Stop:
        pass  # the failure is in the list; the spaces are still checked
    _spaces(checker, spaces)
    if checker.failures:
        raise MethodContractError(method.name, checker.failures)
    checker.report.seconds = time.monotonic() - started
    return checker.report


def _declaration(c: _Checker) -> None:
    """The Method's fields, before anything runs."""
    m, before = c.method, len(c.failures)
    if not NAME.match(m.name):
        c.fail(f"Method.name '{m.name}': use lower-case letters, digits, '_' or '-'")
    for hook in REQUIRED_HOOKS:
        if not callable(getattr(m, hook)):
            c.fail(f"Method.{hook} is not callable: give it a function (or adaptune.method.lazy)")
    if not (isinstance(m.config_cls, type) and dataclasses.is_dataclass(m.config_cls)):
        c.fail("Method.config_cls must be a dataclass class (frozen; defaults = a sane run)")
    else:
        names = {f.name for f in dataclasses.fields(m.config_cls)}
        missing = [f for f in WORKER_FIELDS if f not in names]
        if missing:
            c.fail(
                f"config class {m.config_cls.__name__} lacks the fields the training "
                f"loop reads: {', '.join(missing)} (add them, with defaults)"
            )
        if not m.config_cls.__dataclass_params__.frozen:  # type: ignore[attr-defined]
            c.fail(
                f"config class {m.config_cls.__name__} must be frozen: "
                "@dataclass(frozen=True) (trials share it across threads)"
            )
    bad = [x for x in (m.metric, *m.metrics) if not x.startswith("val/")]
    if bad:
        c.fail(
            f"metric names must start with 'val/' (the worker renames them 'test/' on "
            f"the test split): {', '.join(bad)}"
        )
    if m.metrics and m.metric not in m.metrics:
        c.fail(f"Method.metric '{m.metric}' is not in Method.metrics: declare it there")
    undeclared = sorted(set(m.compare_metrics) - set(m.metrics))
    if undeclared:
        c.fail(f"Method.compare_metrics not in Method.metrics: {', '.join(undeclared)}")
    if len(c.failures) == before:
        c.ok("declaration")
    else:
        raise _Stop  # running a malformed method would only add noise to the list


def _dataspec(m: Method, data: Any) -> Any:
    from adaptune.job.spec import DataSpec

    if isinstance(data, DataSpec):
        return data
    if data is None:
        if not m.data_sources:
            raise ValueError("the method declares no data_sources: pass data={'source': ...}")
        data = {"source": m.data_sources[0]}
    return DataSpec(**dict(data))


def _run(
    c: _Checker,
    config: dict[str, Any],
    data: Any,
    example: Any,
    tmp: str,
    cache_dir: str | None,
) -> None:
    import torch

    m = c.method
    cfg = c.call(
        "the config", "Fix the config values, or the config class's checks.", make_config, m, config
    )
    spec = c.call("the data spec", "Pass data= as a DataSpec or its dict.", _dataspec, m, data)
    splits = c.call(
        "build_data(cfg, data, cache_dir)",
        "Fix build_data.",
        m.build_data,
        cfg,
        spec,
        cache_dir or str(Path(tmp) / "cache"),
    )
    _splits(c, splits)
    train, val, test, info = splits
    model = c.call("build_model(cfg, info)", "Fix build_model.", m.build_model, cfg, info)
    if not isinstance(model, torch.nn.Module):
        c.stop(f"build_model returned a {type(model).__name__}: return a torch.nn.Module")
    before = {n: p.detach().clone() for n, p in model.named_parameters() if p.requires_grad}
    if not before:
        c.stop("the model has no trainable parameter (requires_grad=True)")
    c.ok("build data and model")

    gen = torch.Generator().manual_seed(0)
    loader = c.call(  # what the worker uses, less the DistributedSampler
        "train_loader(train, cfg, generator, 0, 1)",
        "Fix train_loader (or cfg.batch_size).",
        train_batches,
        m,
        train,
        cfg,
        gen,
        0,
        1,
    )
    total = len(loader) * cfg.epochs
    opt = c.call(
        "build_optimizers(model, cfg, total_steps)",
        "Fix build_optimizers.",
        m.build_optimizers,
        model,
        cfg,
        total,
    )
    if not isinstance(opt, Optimizers):
        c.stop(
            f"build_optimizers returned a {type(opt).__name__}: return "
            "an Optimizers([...]) (at.Optimizers)"
        )
    c.report.steps = _train(c, model, loader, opt, cfg)
    now = dict(model.named_parameters())
    # a parameter frozen on purpose during training (a later phase) counts as frozen
    frozen = [n for n, b in before.items() if now[n].requires_grad and torch.equal(now[n], b)]
    if frozen:
        c.fail(
            f"trainable parameters that {c.report.steps} training steps never changed: "
            f"{', '.join(frozen[:8])}{' ...' if len(frozen) > 8 else ''}. No gradient "
            "reaches them (unused in the loss, or detached) or no optimiser holds them: "
            "use them, add them to an optimiser, or set requires_grad=False"
        )
    else:
        c.ok("gradients reach every trainable parameter")

    _evaluate(c, model, val, test, cfg)
    _round_trip(c, model, cfg, info, val, example, Path(tmp) / "model")
