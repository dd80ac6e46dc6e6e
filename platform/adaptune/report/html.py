"""A self-contained HTML page: images embedded as base64 PNG, tables inline, no script,
no network, so the page is one file that opens anywhere (and in MLflow's artifact view).

    text = page("search x", [heading("Best so far"), image(Path("best_so_far.png"))])
"""

from __future__ import annotations

import base64
import html
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

__all__ = ["heading", "image", "link", "page", "paragraph", "table"]

STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 24px auto;
       max-width: 1180px; color: #1d2329; padding: 0 16px; }
h1 { font-size: 1.6em; margin-bottom: 0.2em; } h2 { margin-top: 1.6em; border-bottom:
     1px solid #d0d7de; padding-bottom: 4px; } h3 { margin-top: 1.2em; }
p.note { color: #57606a; } .muted { color: #57606a; }
table { border-collapse: collapse; font-size: 0.85em; margin: 8px 0 16px; }
th, td { border: 1px solid #d0d7de; padding: 3px 8px; text-align: right;
         white-space: nowrap; }
th { background: #f6f8fa; } td.text, th.text { text-align: left; }
tr.completed td:first-child { border-left: 4px solid #2ca02c; }
tr.stopped td:first-child { border-left: 4px solid #ff7f0e; }
tr.errored td:first-child { border-left: 4px solid #d62728; }
tr.best td { background: #fff8c5; font-weight: 600; }
a { color: #0969da; }
img { max-width: 100%; height: auto; display: block; margin: 8px 0; }
.grid { display: flex; flex-wrap: wrap; gap: 8px; } .grid img { max-width: 48%; }
.scroll { overflow-x: auto; }
"""


def esc(value: Any) -> str:
    return html.escape(str(value))


def fmt(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, float):
        return f"{value:.5g}"
    return str(value)


def heading(text: str, level: int = 2) -> str:
    return f"<h{level}>{esc(text)}</h{level}>"


def paragraph(text: str, note: bool = False) -> str:
    return f"<p{' class=note' if note else ''}>{esc(text)}</p>"


def image(path: Path, alt: str = "") -> str:
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return f'<img alt="{esc(alt or path.stem)}" src="data:image/png;base64,{data}">'


def table(
    rows: Sequence[dict[str, Any]],
    columns: Sequence[str] | None = None,
    row_class: str | None = None,
    links: dict[str, str] | None = None,
) -> str:
    """Rows as an HTML table; text columns align left; `row_class` names a column whose
    value becomes each row's CSS class (e.g. the trial status); `links` maps a cell's
    text to a URL (e.g. a trial id to its MLflow run)."""
    if not rows:
        return paragraph("(none)", note=True)
    cols = list(columns or rows[0].keys())
    text = {c for c in cols if any(isinstance(r.get(c), str) for r in rows)}

    def cell(tag: str, c: str, v: str) -> str:
        return f"<{tag}{' class=text' if c in text else ''}>{v}</{tag}>"

    head = "".join(cell("th", c, esc(c)) for c in cols)
    body = []
    for r in rows:
        cls = f' class="{esc(r.get(row_class, ""))}"' if row_class else ""
        body.append(f"<tr{cls}>" + "".join(cell("td", c, _linked(r.get(c), links)) for c in cols))
    return (
        f'<div class="scroll"><table><thead><tr>{head}</tr></thead><tbody>'
        + "</tr>".join(body)
        + "</tr></tbody></table></div>"
    )


def _linked(value: Any, links: dict[str, str] | None) -> str:
    text = esc(fmt(value))
    url = (links or {}).get(str(value)) if value is not None else None
    return f'<a href="{esc(url)}">{text}</a>' if url else text


def link(text: str, url: str) -> str:
    return f'<a href="{esc(url)}">{esc(text)}</a>'


def page(title: str, parts: Sequence[str]) -> str:
    body = "\n".join(parts)
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{esc(title)}</title><style>{STYLE}</style></head>\n<body>\n{body}\n"
        "</body></html>\n"
    )
