"""The checks of one tiny run: splits, training, evaluation, save -> load -> predict, and
the search spaces."""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from adaptune.contract.checker import Space, _Checker
from adaptune.method import MODEL_METADATA, Optimizers, Splits
from adaptune.train.report import reserved_in


def _splits(c: _Checker, splits: Any) -> None:
    if not (isinstance(splits, tuple) and len(splits) == 4):
        c.stop("build_data must return adaptune.method.Splits(train, val, test, info)")
    train, val, test, info = splits if isinstance(splits, Splits) else Splits(*splits)
    empty = [n for n, s in (("train", train), ("val", val), ("test", test)) if len(s) == 0]
    if empty:
        c.stop(f"build_data gave empty splits: {', '.join(empty)} (raise n_train)")
    if not isinstance(info, dict):
        c.stop("build_data's info must be a dict (fingerprint, sizes, ...)")
    if not isinstance(info.get("fingerprint"), str):  # tags the search; warm starts match it
        c.fail(
            "build_data's info has no 'fingerprint' (a str naming the data exactly): set "
            "info['fingerprint'] = adaptune.data.fingerprint(<what built the splits>)"
        )
    # n_test is required (the report's test size); n_train / n_val must be right if given
    for key, split in (("n_train", train), ("n_val", val), ("n_test", test)):
        if (key == "n_test" or key in info) and info.get(key) != len(split):
            c.fail(
                f"build_data's info['{key}'] is {info.get(key)!r}, the split has "
                f"{len(split)} examples: report each split's size there"
            )


def _train(c: _Checker, model: Any, loader: Any, opt: Optimizers, cfg: Any) -> int:
    """The whole tiny schedule (every epoch: each phase a method has is met)."""
    steps = 0
    for _ in range(cfg.epochs):
        for batch in loader:
            logs = c.call(
                f"train_step (step {steps + 1})",
                "Fix train_step.",
                c.method.train_step,
                model,
                batch,
                opt,
                cfg,
            )
            if not isinstance(logs, dict) or "loss" not in logs:
                c.stop(
                    "train_step must return a dict of logs with a 'loss' entry "
                    f"(got {type(logs).__name__})"
                )
            loss = float(logs["loss"])
            if not math.isfinite(loss):
                c.stop(
                    f"train_step {steps + 1} gave a non-finite loss ({loss}); "
                    f"logs {logs}: check the loss, the learning rate and the inputs"
                )
            steps += 1
    if steps < 2:
        c.stop(
            f"the toy run trained {steps} step(s): give check_method more data "
            "(data n_train) or a smaller batch_size, so at least 2 steps run"
        )
    c.ok("finite training steps")
    return steps


def _evaluate(c: _Checker, model: Any, val: Any, test: Any, cfg: Any) -> None:
    from torch.utils.data import DataLoader

    m = c.method
    metrics = c.call(
        "evaluate(model, val loader, cfg)",
        "Fix evaluate.",
        m.evaluate,
        model,
        DataLoader(val, batch_size=cfg.batch_size * 4),
        cfg,
    )
    if not isinstance(metrics, dict):
        c.stop(f"evaluate returned a {type(metrics).__name__}: return a dict of 'val/...' floats")
    missing = sorted({m.metric, *m.metrics} - set(metrics))
    if missing:
        c.fail(
            f"evaluate did not report the declared metrics {', '.join(missing)}: "
            "report them, or remove them from Method.metrics"
        )
    wrong = sorted(k for k in metrics if not isinstance(metrics[k], float))
    if wrong:
        c.fail(f"evaluate must return Python floats (use float(...) or .item()): {wrong}")
    taken = reserved_in(metrics)
    if taken:
        c.fail(
            f"evaluate reports {', '.join(taken)}, names a trial's report or Tune already "
            "uses (adaptune/train/report.py): name them 'val/<name>'"
        )
    objective = metrics.get(m.metric)
    if isinstance(objective, float) and not math.isfinite(objective):
        c.fail(
            f"the objective {m.metric} is {objective} on val: samplers and schedulers "
            "need a finite value"
        )
    c.report.metrics = {k: float(v) for k, v in metrics.items()}
    score = m.evaluate_test or m.evaluate
    scored = c.call(
        "the test split's evaluation",
        "Fix evaluate_test (or evaluate).",
        score,
        model,
        DataLoader(test, batch_size=cfg.batch_size * 4),
        cfg,
    )
    # per-group metrics may be absent where the toy test split lacks the group: require
    # on test what val reported of the declared ones
    lacking = sorted(((set(m.metrics) | {m.metric}) & set(metrics)) - set(scored or {}))
    if lacking:
        c.fail(
            f"the test split's evaluation lacks {', '.join(lacking)} (reported on val): "
            "evaluate_test must report the same 'val/' names as evaluate"
        )
    if not (missing or wrong or lacking):
        c.ok("every declared metric evaluated")


def _round_trip(
    c: _Checker, model: Any, cfg: Any, info: dict[str, Any], val: Any, example: Any, out: Path
) -> None:
    import pandas as pd

    m = c.method
    out.mkdir(parents=True)
    c.call(
        "save_model(model, cfg, info, directory)",
        "Fix save_model.",
        m.save_model,
        model,
        cfg,
        info,
        str(out),
    )
    (out / MODEL_METADATA).write_text(json.dumps({"method": m.name}))
    predict = c.call(
        "load_predictor(directory)",
        "Fix load_predictor: it must read only what save_model wrote there.",
        m.load_predictor,
        str(out),
    )
    if example is None:
        example = m.input_example
    if callable(example):
        example = example(val)
    if example is None:
        c.stop("no prediction input to try: set Method.input_example or pass example=")
    frame = c.call(
        "the loaded predictor", "Fix the function load_predictor returns.", predict, example
    )
    rows = len(example) if isinstance(example, pd.DataFrame | list | tuple) else 1
    if not isinstance(frame, pd.DataFrame) or len(frame) != rows:
        got = f"{len(frame)} rows" if isinstance(frame, pd.DataFrame) else type(frame).__name__
        c.fail(
            f"the predictor must return a pandas DataFrame with one row per input "
            f"({rows}); got {got}"
        )
    else:
        c.ok("save -> load -> predict")


def _spaces(c: _Checker, spaces: Sequence[Space]) -> None:
    from adaptune.job.space import load_space
    from adaptune.job.yamlfile import SpecError

    if not spaces or not dataclasses.is_dataclass(c.method.config_cls):
        return
    fields = {f.name for f in dataclasses.fields(c.method.config_cls)}
    before = len(c.failures)
    for space in spaces:
        label = "a dict space" if isinstance(space, Mapping) else str(space)
        try:
            names = set(space) if isinstance(space, Mapping) else set(load_space(space))
        except SpecError as e:
            c.fail(f"search space {label} does not load: {e}")
            continue
        unknown = sorted(names - fields)
        if unknown:
            c.fail(
                f"search space {label} names {', '.join(unknown)}, not fields of "
                f"{c.method.config_cls.__name__}: a trial could not build its config"
            )
    if len(c.failures) == before:
        c.ok("spaces name only config fields")
