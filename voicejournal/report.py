"""Pictures of the change: a PNG of the monthly counts, and one self-contained HTML page.

The HTML page draws its charts as inline SVG written here by hand, so it needs no plotting
library, no scripts and no network: it opens the same in any browser, offline, years from
now. A Content-Security-Policy in the page forbids scripts and remote loads outright, and
every piece of journal text is escaped, so a transcript can never become markup.

The PNG (`progress --plot`) uses matplotlib, an optional extra (`voicejournal[plot]`).
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from datetime import date
from html import escape
from pathlib import Path

from voicejournal.errors import UserInputError
from voicejournal.models import Entry
from voicejournal.progress import (
    GOOD,
    NARRATIVES,
    PATTERNS,
    Progress,
    entry_day,
    excerpt,
    label,
    month_key,
    say,
    theme_keys,
    triggers_of,
)
from voicejournal.store import atomic_write_bytes

# Okabe–Ito colours: told apart by people with the common forms of colour blindness.
PALETTE = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442"]


def _write(path: Path, payload: bytes) -> None:
    try:
        atomic_write_bytes(path, payload)
    except FileNotFoundError:
        raise UserInputError(f"Can't write {path}: the folder {path.parent} doesn't exist.") from None
    except OSError as exc:
        raise UserInputError(f"Can't write {path}: {exc.strerror}.") from None


# --- PNG with matplotlib -------------------------------------------------------------------


def plot_progress(progress: Progress, path: Path) -> Path:
    """Draw the monthly counts (entries and days; the old stories; what grew) to a PNG."""
    if not progress.enough:
        raise UserInputError(say("plot.skipped"))
    try:
        # matplotlib is an optional extra and takes ~0.5 s to import: only when drawing.
        import matplotlib

        matplotlib.use("Agg")  # no display needed
        import matplotlib.pyplot as plt
    except ImportError:
        raise UserInputError(
            "Drawing needs matplotlib. Install it with: pip install 'voicejournal[plot]' "
            "(or use `voicejournal report --html FILE`, which needs nothing extra)."
        ) from None
    months = [m.month for m in progress.months]
    x = list(range(len(months)))
    ticks = [i for i, k in enumerate(months) if len(months) <= 12 or k[5:] in ("01", "04", "07", "10") or i == 0]
    names = [_short_month(months[i], show_year=(i == 0 or months[i].endswith("-01"))) for i in ticks]

    empty = {i for i, m in enumerate(progress.months) if not m.entries}

    def line(key: str) -> list[float]:
        # NaN breaks the line: a month without entries says nothing about the stories.
        return [math.nan if i in empty else float(v) for i, v in enumerate(progress.series(key))]

    fig, axes = plt.subplots(3, 1, figsize=(12, 9), sharex=True)
    try:
        top, middle, bottom = axes
        top.bar([i - 0.2 for i in x], progress.series("entries"), width=0.4, label="entries", color=PALETTE[4])
        top.bar([i + 0.2 for i in x], progress.series("days"), width=0.4, label="days journaled", color=PALETTE[0])
        top.set_title("Entries and days journaled")
        for colour, key in zip(PALETTE, NARRATIVES, strict=False):
            middle.plot(x, line(key), marker="o", color=colour, label=f'"{label(key)}"')
        for colour, key in zip(PALETTE[4:], PATTERNS, strict=False):
            middle.plot(x, line(key), marker=".", linestyle="--", color=colour, label=label(key))
        middle.set_title("The old stories and patterns")
        for colour, key in zip(PALETTE[2:], GOOD, strict=False):
            bottom.plot(x, line(key), marker="o", color=colour, label=label(key))
        bottom.set_title("What grew")
        for ax in axes:
            ax.yaxis.get_major_locator().set_params(integer=True)
            ax.set_ylim(bottom=0)
            ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=9, frameon=False)
            ax.spines[["top", "right"]].set_visible(False)
        bottom.set_xticks(ticks, names)
        fig.tight_layout()
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", dpi=100)
    finally:
        plt.close(fig)
    _write(path, buffer.getvalue())
    return path


def _short_month(key: str, show_year: bool = False) -> str:
    day = date.fromisoformat(key + "-01")
    return day.strftime("%b %Y") if show_year else day.strftime("%b")


# --- SVG by hand ---------------------------------------------------------------------------


def _nice_top(value: int) -> tuple[int, int]:
    """A round top for the y axis and the step between grid lines."""
    value = max(value, 1)
    step = max(1, math.ceil(value / 4))
    return step * math.ceil(value / step), step


def _x_labels(months: Sequence[str], x_of, bottom: float) -> list[str]:
    out = []
    every = 1 if len(months) <= 12 else max(1, math.ceil(len(months) / 12))
    for i, key in enumerate(months):
        if i % every and not key.endswith("-01"):
            continue
        year = i == 0 or key.endswith("-01")
        out.append(f'<text x="{x_of(i):.1f}" y="{bottom + 16}" class="tick" text-anchor="middle">'
                   f"{_short_month(key)}</text>")
        if year:
            out.append(f'<text x="{x_of(i):.1f}" y="{bottom + 30}" class="tick year" text-anchor="middle">'
                       f"{key[:4]}</text>")
    return out


def svg_chart(months: Sequence[str], series: Sequence[tuple[str, list[int]]], title: str,
              bars: bool = False, gaps: Sequence[int] = (), width: int = 880, height: int = 240) -> str:
    """A small line (or grouped bar) chart of monthly counts, as inline SVG.

    Months listed in `gaps` (no entries) break the lines instead of drawing a zero: a month
    without entries says nothing about how often a story came up.
    """
    left, right, top, bottom = 36, 12, 12, height - 40
    top_value, step = _nice_top(max((max(v) for _, v in series if v), default=0))
    n = max(1, len(months))
    slot = (width - left - right) / n

    def x_of(i: int) -> float:
        return left + slot * (i + 0.5)

    def y_of(v: float) -> float:
        return bottom - (bottom - top) * v / top_value

    parts = [f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" '
             f'aria-label="{escape(title)}" xmlns="http://www.w3.org/2000/svg">', f"<title>{escape(title)}</title>"]
    for v in range(0, top_value + 1, step):
        y = y_of(v)
        parts.append(f'<line x1="{left}" x2="{width - right}" y1="{y:.1f}" y2="{y:.1f}" class="grid"/>')
        parts.append(f'<text x="{left - 6}" y="{y + 4:.1f}" class="tick" text-anchor="end">{v}</text>')
    parts += _x_labels(months, x_of, bottom)
    for index, (name, values) in enumerate(series):
        colour = PALETTE[index % len(PALETTE)]
        if bars:
            bar_w = slot * 0.8 / len(series)
            for i, v in enumerate(values):
                x = x_of(i) - slot * 0.4 + bar_w * index
                parts.append(f'<rect x="{x:.1f}" y="{y_of(v):.1f}" width="{bar_w:.1f}" '
                             f'height="{bottom - y_of(v):.1f}" fill="{colour}">'
                             f"<title>{escape(name)}, {_short_month(months[i], True)}: {v}</title></rect>")
            continue
        runs: list[list[int]] = [[]]
        for i in range(len(values)):
            if i in gaps:
                runs.append([])
            else:
                runs[-1].append(i)
        for run in runs:
            if not run:
                continue
            points = " ".join(f"{x_of(i):.1f},{y_of(values[i]):.1f}" for i in run)
            parts.append(f'<polyline points="{points}" fill="none" stroke="{colour}" stroke-width="2.5" '
                         'stroke-linejoin="round"/>')
        for i, v in enumerate(values):
            if i in gaps:
                continue
            parts.append(f'<circle cx="{x_of(i):.1f}" cy="{y_of(v):.1f}" r="3" fill="{colour}">'
                         f"<title>{escape(name)}, {_short_month(months[i], True)}: {v}</title></circle>")
    parts.append("</svg>")
    legend = "".join(
        f'<span class="key"><span class="swatch" style="background:{PALETTE[i % len(PALETTE)]}"></span>'
        f"{escape(name)}</span>" for i, (name, _) in enumerate(series)
    )
    return f'<figure>{"".join(parts)}<figcaption>{legend}</figcaption></figure>'


# --- the page ------------------------------------------------------------------------------

_STYLE = """
:root { color-scheme: light; --ink:#23262b; --soft:#5d6470; --line:#e3e1dc; --paper:#fbfaf7; --accent:#0072B2; }
* { box-sizing: border-box; }
body { margin:0; background:var(--paper); color:var(--ink);
  font: 16px/1.55 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif; }
main { max-width: 960px; margin: 0 auto; padding: 32px 24px 64px; }
h1 { font-size: 30px; margin: 0 0 4px; font-weight: 600; }
h2 { font-size: 21px; margin: 40px 0 12px; font-weight: 600; border-bottom: 1px solid var(--line); padding-bottom: 6px; }
h3 { font-size: 16px; margin: 18px 0 6px; color: var(--soft); }
.subtitle { color: var(--soft); margin: 0 0 24px; }
.summary { background: #fff; border: 1px solid var(--line); border-radius: 10px; padding: 16px 20px; }
.summary p { margin: 6px 0; }
figure { margin: 0 0 8px; }
svg.chart { width: 100%; height: auto; background: #fff; border: 1px solid var(--line); border-radius: 10px; }
svg .grid { stroke: #eeece7; stroke-width: 1; }
svg .tick { fill: var(--soft); font-size: 11px; font-family: inherit; }
svg .year { font-weight: 600; }
figcaption { font-size: 14px; color: var(--soft); margin-top: 6px; }
.key { display: inline-block; margin-right: 16px; }
.swatch { display: inline-block; width: 12px; height: 12px; border-radius: 3px; margin-right: 6px; vertical-align: -1px; }
table { border-collapse: collapse; font-size: 13px; width: 100%; background:#fff; }
th, td { border-bottom: 1px solid var(--line); padding: 4px 6px; text-align: right; white-space: nowrap; }
th:first-child, td:first-child { text-align: left; }
.scroll { overflow-x: auto; }
blockquote { margin: 10px 0; padding: 8px 16px; background: #fff; border-left: 4px solid #009E73; border-radius: 6px; }
blockquote .when { display:block; color: var(--soft); font-size: 13px; }
details { margin: 6px 0; }
summary { cursor: pointer; font-weight: 600; padding: 4px 0; }
.entry { background:#fff; border: 1px solid var(--line); border-radius: 8px; padding: 10px 14px; margin: 8px 0; }
.entry .when { color: var(--soft); font-size: 13px; }
.entry p { margin: 4px 0 0; white-space: pre-wrap; overflow-wrap: anywhere; }
.chip { display:inline-block; font-size: 12px; background:#eef3f8; color:#24466b; border-radius: 10px; padding: 0 8px; margin: 4px 4px 0 0; }
.message { font-size: 18px; }
footer { margin-top: 48px; color: var(--soft); font-size: 13px; }
"""

# No scripts, no remote anything: only inline styles and data: images are allowed.
_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'"


def html_report(entries: Sequence[Entry], progress: Progress, title: str | None = None) -> str:
    """The whole page as a string. Every piece of journal text is escaped."""
    window = progress.window
    inside = sorted((e for e in entries if window.start <= entry_day(e) <= window.end),
                    key=lambda e: (e.created, e.id))
    months = [m.month for m in progress.months]
    gaps = [i for i, m in enumerate(progress.months) if not m.entries]
    heading = title or say("report.title")
    body = [f"<h1>{escape(heading)}</h1>"]
    if inside:
        body.append('<p class="subtitle">' + escape(say(
            "report.subtitle",
            entries=f"{len(inside)} entr{'y' if len(inside) == 1 else 'ies'}",
            start=_long_day(entry_day(inside[0])), end=_long_day(entry_day(inside[-1])),
        )) + "</p>")

    if progress.message:
        body.append(f'<div class="summary"><p class="message">{escape(progress.message)}</p></div>')
    else:
        body.append('<div class="summary">' + "".join(f"<p>{escape(s)}</p>" for s in progress.sentences)
                    + "</div>")
        body.append(f"<h2>{escape(say('report.trend_heading'))}</h2>")
        body.append(svg_chart(months, [("entries", progress.series("entries")),
                                       ("days journaled", progress.series("days"))],
                              "Entries and days journaled each month", bars=True))
        body.append(_counts_table(progress))
        body.append(f"<h2>{escape(say('report.stories_heading'))}</h2>")
        body.append(svg_chart(months, [(f'"{label(k)}"', progress.series(k)) for k in NARRATIVES],
                              "How often each old story came up, month by month", gaps=gaps))
        body.append(f"<h2>{escape(say('report.patterns_heading'))}</h2>")
        body.append(svg_chart(months, [(label(k), progress.series(k)) for k in PATTERNS],
                              "How often each old pattern showed up, month by month", gaps=gaps))
        body.append(f"<h2>{escape(say('report.good_heading'))}</h2>")
        body.append(svg_chart(months, [(label(k), progress.series(k)) for k in GOOD],
                              "Moments of connection, corrective experiences and curiosity, month by month", gaps=gaps))

    if inside:
        body.append(f"<h2>{escape(say('report.connection_heading'))}</h2>")
        moments = [e for e in inside if "connection" in theme_keys(e)]
        if moments:
            for entry in reversed(moments):
                words = excerpt(entry, triggers_of(entry, "connection"), width=320)
                body.append(f'<blockquote><span class="when">{escape(_long_day(entry_day(entry)))}</span>'
                            f"{escape(words)}</blockquote>")
        else:
            body.append(f"<p>{escape(say('report.connection_none'))}</p>")
        body.append(f"<h2>{escape(say('report.timeline_heading'))}</h2>")
        body += _timeline(inside)

    body.append(f"<footer>{escape(say('report.footer'))}</footer>")
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<meta name="referrer" content="no-referrer">'
        f"<title>{escape(heading)}</title><style>{_STYLE}</style></head>"
        f"<body><main>{''.join(body)}</main></body></html>\n"
    )


def _counts_table(progress: Progress) -> str:
    from voicejournal.progress import STEPS

    rows = [("entries", "entries"), ("days journaled", "days")]
    rows += [(f'"{label(k)}"', k) for k in NARRATIVES] + [(label(k), k) for k in PATTERNS]
    rows += [(label(k), k) for k in (*GOOD, *STEPS)]
    head = "".join(f"<th>{escape(_short_month(m.month, m.month.endswith('-01') or i == 0))}</th>"
                   for i, m in enumerate(progress.months))
    lines = [f"<tr><th>month</th>{head}</tr>"]
    for name, key in rows:
        cells = "".join(f"<td>{v or '·'}</td>" for v in progress.series(key))
        lines.append(f"<tr><td>{escape(name)}</td>{cells}</tr>")
    return ('<details><summary>The numbers</summary><div class="scroll"><table>'
            + "".join(lines) + "</table></div></details>")


def _timeline(entries: Sequence[Entry], open_months: int = 2) -> list[str]:
    """Entries grouped by month, newest month first; the latest months start open."""
    groups: dict[str, list[Entry]] = {}
    for entry in entries:
        groups.setdefault(month_key(entry_day(entry)), []).append(entry)
    out = []
    for index, key in enumerate(sorted(groups, reverse=True)):
        items = groups[key]
        name = date.fromisoformat(key + "-01").strftime("%B %Y")
        count = f"{len(items)} entr{'y' if len(items) == 1 else 'ies'}"
        out.append(f"<details{' open' if index < open_months else ''}><summary>{escape(name)} · {count}</summary>")
        for entry in reversed(items):
            chips = "".join(f'<span class="chip">{escape(label(k))}</span>' for k in sorted(theme_keys(entry)))
            practice = f" · {escape(entry.practice)}" if entry.practice else ""
            text = entry.transcript.strip() or "(transcript pending)"
            if len(text) > 600:
                text = text[:600].rsplit(" ", 1)[0] + "…"
            out.append(f'<div class="entry"><span class="when">'
                       f"{escape(entry.created.astimezone().strftime('%a %d %b %Y, %H:%M'))}{practice}</span>"
                       f"<p>{escape(text)}</p>{chips}</div>")
        out.append("</details>")
    return out


def _long_day(day: date) -> str:
    return f"{day.day} {day.strftime('%B %Y')}"


def write_html_report(entries: Sequence[Entry], progress: Progress, path: Path) -> Path:
    """Write the page to `path` (0600, atomically): it holds the person's own words."""
    _write(path, html_report(entries, progress).encode("utf-8"))
    return path
