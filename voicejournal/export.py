"""Turning entries into files people can keep: Markdown, plain text, JSON."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence

from voicejournal import __version__
from voicejournal.models import Entry, now_iso


def _when(entry: Entry) -> str:
    return entry.created.strftime("%A %d %B %Y, %H:%M")


def to_markdown(entries: Sequence[Entry]) -> str:
    """Readable in any notes app: a heading per entry, the reflection as a quote."""
    out = ["# Journal", ""]
    for e in entries:
        out.append(f"## {_when(e)}")
        meta = [f"id `{e.id}`"]
        if e.practice:
            meta.append(f"practice: {e.practice}")
        if e.tags:
            meta.append(" ".join("#" + t for t in e.tags))
        if e.starred:
            meta.append("★")
        out += ["", " · ".join(meta), "", e.transcript.strip() or "_(transcript pending)_", ""]
        if e.reflection:
            out += ["> " + line if line else ">" for line in e.reflection.text.strip().splitlines()]
            out.append("")
    return "\n".join(out).rstrip() + "\n"


def to_text(entries: Sequence[Entry]) -> str:
    out = []
    for e in entries:
        out.append(_when(e) + (f"  [{', '.join(e.tags)}]" if e.tags else ""))
        out.append(e.transcript.strip() or "(transcript pending)")
        if e.reflection:
            out.append("")
            out.append("Reflection: " + e.reflection.text.strip())
        out.append("\n" + "-" * 40 + "\n")
    return "\n".join(out)


def to_json(entries: Sequence[Entry], names: Sequence[dict] | None = None,
            name_decisions: Sequence[dict] | None = None) -> str:
    """Every stored field. Secrets are never stored on entries, so none can leak here.

    `names` is the journal's names list as `voicejournal names --json` shows it, and
    `name_decisions` the person's own additions, corrections and removals behind it (what
    `import` brings back).
    """
    doc = {
        "voicejournal_version": __version__,
        "exported_at": now_iso(),
        "entries": [e.to_dict() for e in entries],
    }
    if names is not None:
        doc["names"] = list(names)
    if name_decisions is not None:
        doc["name_decisions"] = list(name_decisions)
    return json.dumps(doc, ensure_ascii=False, indent=2) + "\n"


FORMATS: dict[str, Callable[[Sequence[Entry]], str]] = {
    "md": to_markdown,
    "txt": to_text,
    "json": to_json,
}
