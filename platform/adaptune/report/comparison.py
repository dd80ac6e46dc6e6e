"""A comparison's table and verdicts, made from its results record alone (the JSON file
driver/claim.py writes): the job run's report/, the console and the docs' tables
(`adaptune results render`) all show what this module computes from the same record.

    rows, verdicts = comparison_rows(record)
    print("\n".join(markdown(record, rows, verdicts)))
    text = render(text, {"mad-compare": record})   # the tables between the markers

A record holds per arm its per-seed rows ({"seed", "val/<objective>", "test/...": ...});
every mean, interval and test is computed here, never stored: what a reader audits is
the raw numbers.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Mapping
from typing import Any

from adaptune.stats import adjusted, by_seed, paired, summarize

__all__ = ["comparison_rows", "markdown", "plot", "render"]

# In a Markdown file: the block between these is the named record's rendered table
BEGIN = re.compile(r"<!-- results: (\S+) -->\n.*?<!-- /results -->", re.DOTALL)


def comparison_rows(record: Mapping[str, Any]) -> tuple[list[dict[str, Any]], list[str]]:
    """One row per arm (val best, test mean ± ci95 over the re-runs, for every compared
    metric) and one verdict per pair of arms and metric (paired t-test over the seeds both
    arms ran, matched by seed id), Holm-adjusted within the job but for its ``primary``
    contrast."""
    keys = record["metrics"]
    rows: list[dict[str, Any]] = []
    scores: dict[str, dict[str, dict[int, float]]] = {k: {} for k in keys}  # key, arm, seed
    for arm in record["arms"]:
        row: dict[str, Any] = {"arm": arm["name"], "search": arm["search"]}
        row["val_best"] = arm["val_best"]
        for key in keys:
            seeded = {int(r["seed"]): r[key] for r in arm["seeds"] if r.get(key) is not None}
            scores[key][arm["name"]] = seeded
            agg = summarize(list(seeded.values())) if seeded else None
            for stat in ("mean", "std", "ci95"):
                row[f"{key}_{stat}"] = getattr(agg, stat) if agg else None
        row["seeds"] = len(scores[keys[0]][arm["name"]])
        rows.append(row)
    contrasts = []  # (metric, arm a, arm b): every pair, on every metric
    for key in keys:
        contrasts += [(key, a, b) for a, b in itertools.combinations(scores[key], 2)]
    want = record.get("primary")  # [candidate, baseline] on the objective: its own p
    primary = next((i for i, c in enumerate(contrasts) if want and set(c[1:]) == set(want)), None)
    if primary is not None and want:
        contrasts[primary] = (keys[0], *want)
    tests = adjusted(
        [paired(*by_seed(scores[k][a], scores[k][b])) for k, a, b in contrasts], primary
    )
    verdicts = []
    for i, ((key, a, b), test) in enumerate(zip(contrasts, tests, strict=True)):
        verdict = test.verdict(a, b) + (" — the primary contrast" if i == primary else "")
        if lone := sorted(set(scores[key][a]) ^ set(scores[key][b])):  # paired by seed id
            verdict += f"; seeds {', '.join(map(str, lone))} ran in one arm only, left out"
        verdicts.append(verdict if len(keys) == 1 else f"{key}: {verdict}")
    return rows, verdicts


def markdown(
    record: Mapping[str, Any], rows: list[dict[str, Any]], verdicts: list[str]
) -> list[str]:
    keys = record["metrics"]
    head = " | ".join(f"{k} mean ± 95 % CI" for k in keys)
    out = [
        f"| arm | best {record['objective']['metric']} (selection) | {head} | seeds |",
        "|---|---|" + "---|" * len(keys) + "---|",
    ]
    for r in rows:
        cells = []
        for key in keys:
            mean, ci = r[f"{key}_mean"], r[f"{key}_ci95"]
            cells.append("—" if mean is None else f"{mean:.4g} ± {ci:.2g}")
        val = "—" if r["val_best"] is None else f"{r['val_best']:.4g}"
        out.append(f"| {r['arm']} | {val} | {' | '.join(cells)} | {r['seeds']} |")
    return [*out, "", *(f"- {v}" for v in verdicts)]


def plot(record: Mapping[str, Any], rows: list[dict[str, Any]]) -> Any:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    key = record["metrics"][0]
    shown = [r for r in rows if r[f"{key}_mean"] is not None]
    fig = Figure(figsize=(max(5.0, 1.2 * len(shown)), 3.6))
    ax = fig.add_subplot()
    xs = range(len(shown))
    ax.bar(xs, [r[f"{key}_mean"] for r in shown], color="#4c78a8")
    ax.errorbar(xs, [r[f"{key}_mean"] for r in shown], yerr=[r[f"{key}_ci95"] or 0 for r in shown],
                fmt="none", ecolor="black", capsize=4)  # fmt: skip
    ax.set_xticks(list(xs), [r["arm"] for r in shown], rotation=20, ha="right")
    ax.set_ylabel(f"{key} (mean ± 95 % CI over seeds)")
    ax.set_title("arms at equal budget, held-out test split")
    fig.tight_layout()
    return fig


def render(text: str, records: Mapping[str, Mapping[str, Any]], source: str = "") -> str:
    """`text` with every ``<!-- results: NAME -->`` … ``<!-- /results -->`` block made
    again from the record NAME (KeyError naming the file and the record if there is none):
    the table, the verdicts, and what made the record."""

    def block(m: re.Match[str]) -> str:
        name = m.group(1)
        if name not in records:
            raise KeyError(f"{source or 'text'}: no results record '{name}' for its table")
        record = records[name]
        rows, verdicts = comparison_rows(record)
        made = record["provenance"]
        where = f"commit {made['commit'][:10]}" if made.get("commit") else "no git commit"
        note = (
            f"Rendered from `results/{name}.json` by `adaptune results render`; made by "
            f"`{record['command']}` ({where}{', dirty tree' if made.get('dirty') else ''}, "
            f"{made['machine']['cpus']} CPUs, {made['machine']['accelerator']}); "
            f"{record['data_note']}"
        )
        body = "\n".join(markdown(record, rows, verdicts))
        return f"<!-- results: {name} -->\n{body}\n\n{note}\n<!-- /results -->"

    return BEGIN.sub(block, text)
