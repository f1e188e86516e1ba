"""Pieces every command shares: the --journal/--json options, opening the store, printing."""

from __future__ import annotations

import json
import logging
import re
import shutil
import sys
from collections.abc import Callable, Iterable
from typing import Any

import click

from voicejournal.models import Entry

_SECRET = re.compile(r"(sk-[A-Za-z0-9_\-]{8,}|(?i:api[_-]?key|passphrase|authorization)[\"'=: ]+\S+)")


class _RedactingFormatter(logging.Formatter):
    """Debug output may be pasted into bug reports: never let a key or passphrase through."""

    def format(self, record: logging.LogRecord) -> str:
        return _SECRET.sub("[redacted]", super().format(record))


def enable_debug_logging() -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_RedactingFormatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
    root = logging.getLogger("voicejournal")
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)


def error(message: str) -> None:
    click.secho(f"Error: {message}", fg="red", err=True)


def note(message: str) -> None:
    """A side remark for the person (stderr, so stdout stays clean for scripts)."""
    click.echo(message, err=True)


def journal_option(func: Callable[..., Any]) -> Callable[..., Any]:
    """`--journal PATH`, accepted both before and after the command name."""

    def remember(ctx: click.Context, _param: click.Parameter, value: str | None) -> str | None:
        if value:
            ctx.ensure_object(dict)
            root = ctx.find_root()
            root.ensure_object(dict)
            root.obj["journal"] = value
        return value

    return click.option(
        "--journal",
        type=click.Path(dir_okay=True),
        envvar="VOICEJOURNAL_JOURNAL",
        expose_value=False,
        callback=remember,
        is_eager=True,
        help="Journal file to use (default: journal.json in $VOICEJOURNAL_HOME or your data folder).",
    )(func)


def json_option(func: Callable[..., Any]) -> Callable[..., Any]:
    return click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")(func)


def command(cli: click.Group, *args: Any, **kwargs: Any) -> Callable[[Callable[..., Any]], click.Command]:
    """`cli.command` plus the options every command takes."""

    def decorate(func: Callable[..., Any]) -> click.Command:
        return cli.command(*args, **kwargs)(journal_option(func))

    return decorate


def journal_path() -> str | None:
    ctx = click.get_current_context()
    root = ctx.find_root()
    return (root.obj or {}).get("journal")


def open_store():
    """The store for this invocation, opened once and kept on the root context."""
    from voicejournal.store import open_store as _open

    root = click.get_current_context().find_root()
    root.ensure_object(dict)
    if "store" not in root.obj:
        root.obj["store"] = _open(journal_path(), ask_passphrase=ask_passphrase)
    return root.obj["store"]


def ask_passphrase(prompt: str, confirm: bool) -> str | None:
    """Ask for a passphrase without echoing it; None when nothing can be read (no terminal, no input).

    Piped input (`pass show journal | voicejournal list`) is read as one line, without a prompt.
    """
    if not sys.stdin.isatty():
        line = sys.stdin.readline().rstrip("\r\n")
        return line or None
    try:
        return click.prompt(prompt, hide_input=True, confirmation_prompt=confirm, err=True) or None
    except (click.Abort, EOFError):
        return None


def load_config(**overrides: Any):
    """Settings with this command's flags applied on top."""
    from voicejournal.config import load_config as _load

    return _load().with_overrides(**overrides)


def print_json(data: Any) -> None:
    click.echo(json.dumps(data, ensure_ascii=False, indent=2))


def terminal_width() -> int:
    return max(60, shutil.get_terminal_size((100, 24)).columns)


def short_date(entry: Entry) -> str:
    return entry.created.astimezone().strftime("%Y-%m-%d %H:%M")


def one_line(text: str, width: int) -> str:
    flat = " ".join(text.split())
    if len(flat) <= width:
        return flat
    return flat[: max(1, width - 1)].rstrip() + "…"


def entries_table(entries: Iterable[Entry]) -> str:
    """Aligned rows: id, date, star, tags/practice, and the start of the transcript."""
    rows = []
    for e in entries:
        marks = ("★" if e.starred else " ") + ("…" if e.is_pending else " ")
        tags = " ".join("#" + t for t in e.tags)
        rows.append((e.id, short_date(e), marks, tags, e.transcript or "(transcript pending)"))
    if not rows:
        return ""
    tag_w = min(24, max(len(r[3]) for r in rows))
    id_w = max(len(r[0]) for r in rows)
    fixed = id_w + 2 + 16 + 2 + 2 + 1 + (tag_w + 2 if tag_w else 0)
    text_w = max(20, terminal_width() - fixed)
    lines = []
    for ident, when, marks, tags, text in rows:
        tag_col = f"{one_line(tags, tag_w):<{tag_w}}  " if tag_w else ""
        lines.append(f"{ident:<{id_w}}  {when}  {marks} {tag_col}{one_line(text, text_w)}")
    return "\n".join(lines)


def entry_block(entry: Entry, highlight: Callable[[str], str] | None = None) -> str:
    """A readable block for one entry (used by `show`)."""
    mark = highlight or (lambda s: s)
    head = click.style(f"{short_date(entry)}  ·  {entry.id}", bold=True)
    meta = [f"source: {entry.source}"]
    if entry.practice:
        meta.append(f"practice: {entry.practice}")
    if entry.duration_s:
        meta.append(f"length: {entry.duration_s:.0f} s")
    if entry.tags:
        meta.append("tags: " + " ".join("#" + t for t in entry.tags))
    if entry.starred:
        meta.append("★ starred")
    if entry.is_pending:
        meta.append("status: pending" + (f" ({entry.pending_reason})" if entry.pending_reason else ""))
    parts = [head, click.style("  ".join(meta), dim=True), "", mark(entry.transcript or "(transcript pending)")]
    if entry.safety and entry.safety.level == "check":
        said = f" (answer: {entry.safety.answer})" if entry.safety.answer else ""
        parts += ["", click.style(f"You were asked gently how safe you were, and shown where to find support{said}.",
                                  fg="yellow")]
    elif entry.safety:
        parts += ["", click.style("Support was offered with this entry.", fg="yellow")]
    if entry.reflection:
        parts += ["", click.style("Reflection", bold=True), mark(entry.reflection.text)]
    if entry.themes:
        names = ", ".join(sorted({t.name.replace("_", " ") for t in entry.themes}))
        parts += ["", click.style(f"Noticed: {names}", dim=True)]
    if entry.audio:
        parts += [click.style(f"Recording: {entry.audio}", dim=True)]
    return "\n".join(parts)
