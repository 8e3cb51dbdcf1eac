"""A self-contained HTML page from sections of figures, tables, key numbers and notes.

Images are embedded as base64 PNG, so the page opens from disk in any browser with no server.
Pure: sections in, HTML text out (``stages/report.py`` writes it).
"""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

type Item = Figure | Png | Table | Note | KeyNumbers


@dataclass(frozen=True)
class Figure:
    figure: Any  # a matplotlib Figure
    caption: str = ""


@dataclass(frozen=True)
class Png:
    data: bytes
    caption: str = ""


@dataclass(frozen=True)
class Table:
    frame: pd.DataFrame
    caption: str = ""


@dataclass(frozen=True)
class Note:
    text: str


@dataclass(frozen=True)
class KeyNumbers:
    numbers: Sequence[tuple[str, str]]  # (label, formatted value)


@dataclass(frozen=True)
class Section:
    title: str
    items: Sequence[Item] = field(default_factory=list)
    anchor: str = ""


STYLE = """
body { font-family: -apple-system, "Segoe UI", Roboto, Helvetica, Arial, sans-serif;
       margin: 0 auto; max-width: 1100px; padding: 1.5rem; color: #222; line-height: 1.45; }
h1 { margin-bottom: 0.2rem; } .sub { color: #666; margin-top: 0; }
nav a { margin-right: 1rem; } section { margin-top: 2.2rem; }
h2 { border-bottom: 2px solid #ddd; padding-bottom: 0.3rem; }
.grid { display: flex; flex-wrap: wrap; gap: 1rem; }
figure { margin: 0; flex: 1 1 480px; } figure img { max-width: 100%; height: auto; }
figcaption { color: #555; font-size: 0.9rem; }
.keys { display: flex; flex-wrap: wrap; gap: 0.8rem; }
.key { background: #f4f6f8; border-radius: 6px; padding: 0.6rem 0.9rem; min-width: 150px; }
.key b { display: block; font-size: 1.35rem; } .key span { color: #555; font-size: 0.85rem; }
table { border-collapse: collapse; font-size: 0.9rem; margin: 0.5rem 0; }
th, td { border-bottom: 1px solid #e3e3e3; padding: 0.25rem 0.6rem; text-align: right; }
th:first-child, td:first-child { text-align: left; } caption { text-align: left; color: #555; }
.note { color: #444; }
"""


def figure_png(figure: Any) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100, metadata={"Software": None})
    return buffer.getvalue()


def _img(data: bytes, caption: str) -> str:
    encoded = base64.b64encode(data).decode("ascii")
    text = f"<figcaption>{html.escape(caption)}</figcaption>" if caption else ""
    alt = html.escape(caption or "chart")
    return f'<figure><img alt="{alt}" src="data:image/png;base64,{encoded}">{text}</figure>'


def _item(item: Item) -> str:
    if isinstance(item, Figure):
        return _img(figure_png(item.figure), item.caption)
    if isinstance(item, Png):
        return _img(item.data, item.caption)
    if isinstance(item, Table):
        table = item.frame.to_html(index=False, border=0, escape=True, na_rep="-")
        caption = f"<caption>{html.escape(item.caption)}</caption>" if item.caption else ""
        return table.replace(">", ">" + caption, 1)
    if isinstance(item, Note):
        return f'<p class="note">{html.escape(item.text)}</p>'
    keys = "".join(
        f'<div class="key"><b>{html.escape(value)}</b><span>{html.escape(label)}</span></div>'
        for label, value in item.numbers
    )
    return f'<div class="keys">{keys}</div>'


def render_html(title: str, subtitle: str, sections: Sequence[Section]) -> str:
    """The whole page. Figures and images sit side by side where the width allows."""
    nav = " ".join(
        f'<a href="#{s.anchor or i}">{html.escape(s.title)}</a>' for i, s in enumerate(sections)
    )
    body = []
    for i, section in enumerate(sections):
        parts, images = [], []
        for item in section.items:
            if isinstance(item, Figure | Png):
                images.append(_item(item))
                continue
            if images:
                parts.append(f'<div class="grid">{"".join(images)}</div>')
                images = []
            parts.append(_item(item))
        if images:
            parts.append(f'<div class="grid">{"".join(images)}</div>')
        body.append(
            f'<section id="{section.anchor or i}"><h2>{html.escape(section.title)}</h2>'
            f"{''.join(parts)}</section>"
        )
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title><style>{STYLE}</style></head><body>"
        f'<h1>{html.escape(title)}</h1><p class="sub">{html.escape(subtitle)}</p>'
        f"<nav>{nav}</nav>{''.join(body)}</body></html>\n"
    )
