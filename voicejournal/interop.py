"""Bringing a history in and taking it out: jrnl JSON, Day One JSON, folders of Markdown/text.

Export: `to_jrnl` writes jrnl's JSON export format (`{"tags": {...}, "entries": [{title, body,
date, time, tags, starred}]}`, tags written as `@tag`). Each entry also carries its full
voicejournal record under the key "voicejournal", which jrnl and other readers ignore, so an
export imported back here gives identical entries (reflection, themes, segments, id and all).

Import: `read_import(path)` recognises jrnl JSON, Day One's JSON export, and a folder of
`.md` / `.txt` files (one entry per file; the date from YAML-style front matter, else from the
file name). Everything is parsed and checked before anything is saved: one bad entry stops
the import with a message naming it, and the journal is left as it was.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any

from voicejournal import __version__
from voicejournal.errors import UserInputError
from voicejournal.models import Entry, now_iso

MAX_IMPORT_BYTES = 200 * 1024 * 1024
MAX_ENTRY_CHARS = 1_000_000
_TAG = re.compile(r"[\w][\w\-]{0,39}")


# --- export --------------------------------------------------------------------------------


def _split_title(text: str) -> tuple[str, str]:
    """jrnl's idea of a title: the first sentence (up to . ? or ! followed by a space) or line."""
    text = text.strip()
    match = re.search(r"([.?!]+)(\s+)|\n", text)
    if not match:
        return text, ""
    end = match.end(1) if match.group(1) else match.start()
    return text[:end].strip(), text[end:].strip()


def to_jrnl(entries: Sequence[Entry]) -> str:
    """jrnl's JSON export format, with each entry's full voicejournal record alongside."""
    counts: dict[str, int] = {}
    out = []
    for e in entries:
        title, body = _split_title(e.transcript)
        if e.reflection:
            body = (body + "\n\n" if body else "") + "Reflection: " + e.reflection.text.strip()
        when = e.created
        tags = ["@" + t for t in e.tags]
        for t in tags:
            counts[t] = counts.get(t, 0) + 1
        out.append({
            "title": title,
            "body": body,
            "date": when.strftime("%Y-%m-%d"),
            "time": when.strftime("%H:%M"),
            "tags": tags,
            "starred": e.starred,
            "voicejournal": e.to_dict(),
        })
    doc = {"tags": dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))), "entries": out,
           "voicejournal_version": __version__, "exported_at": now_iso()}
    return json.dumps(doc, ensure_ascii=False, indent=2) + "\n"


# --- import --------------------------------------------------------------------------------


@dataclass
class ImportResult:
    """Entries read from a file or folder, ready to add, and what was noticed on the way."""

    format: str
    entries: list[Entry] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # files that hold no entry, with why


def read_import(path: Path) -> ImportResult:
    """Read jrnl JSON, Day One JSON, or a folder of Markdown/text files into entries.

    Raises UserInputError (naming the file and entry) when anything can't be used.
    """
    path = Path(path).expanduser()
    if path.is_dir():
        return _read_folder(path)
    if not path.is_file():
        raise UserInputError(f"There is no file or folder at {path}.")
    data = _load_json(path)
    if isinstance(data, dict) and isinstance(data.get("entries"), list):
        entries = data["entries"]
        if "metadata" in data or any(isinstance(e, dict) and "creationDate" in e for e in entries):
            return ImportResult("dayone", [_from_dayone(e, i, path) for i, e in enumerate(entries, 1)])
        if all(isinstance(e, dict) and ("title" in e or "body" in e or "voicejournal" in e) for e in entries):
            return ImportResult("jrnl", [_from_jrnl(e, i, path) for i, e in enumerate(entries, 1)])
        if all(isinstance(e, dict) and "transcript" in e for e in entries):  # our own `export --format json`
            return ImportResult("voicejournal", [_from_ours(e, i, path) for i, e in enumerate(entries, 1)])
    raise UserInputError(
        f"{path} is JSON, but not a jrnl or Day One export. Nothing was imported. "
        "Export from jrnl with `jrnl --format json` or from Day One as JSON."
    )


def _read_bytes(path: Path) -> bytes:
    try:
        size = path.stat().st_size
        if size > MAX_IMPORT_BYTES:
            raise UserInputError(f"{path} is {size // 2**20} MB; imports are limited to {MAX_IMPORT_BYTES // 2**20} MB.")
        return path.read_bytes()
    except OSError as exc:
        raise UserInputError(f"Can't read {path}: {exc.strerror}.") from None


def _decode(raw: bytes, path: Path) -> str:
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise UserInputError(
            f"{path} is not UTF-8 text (byte {exc.start}). Nothing was imported; save it as UTF-8 and try again."
        ) from None


def _load_json(path: Path) -> Any:
    text = _decode(_read_bytes(path), path)
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise UserInputError(
            f"{path} is not valid JSON (line {exc.lineno}, column {exc.colno}). Nothing was imported."
        ) from None


def _where(path: Path, index: int) -> str:
    return f"{path.name}, entry {index}"


def _text(value: Any, what: str, where: str) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise UserInputError(f"{where}: '{what}' should be text. Nothing was imported.")
    if len(value) > MAX_ENTRY_CHARS:
        raise UserInputError(f"{where}: the text is over {MAX_ENTRY_CHARS:,} characters. Nothing was imported.")
    return value.replace("\x00", "")


def _tags(values: Any, where: str) -> list[str]:
    if values is None:
        return []
    if not isinstance(values, list):
        raise UserInputError(f"{where}: tags should be a list. Nothing was imported.")
    out: list[str] = []
    for raw in values:
        name = str(raw).strip().lstrip("@#").lower().replace(" ", "-")
        if not _TAG.fullmatch(name):
            raise UserInputError(
                f"{where}: '{raw}' can't be a tag (up to 40 letters, digits, - or _). Nothing was imported."
            )
        if name not in out:
            out.append(name)
    return out


def _moment(day: str, clock: str | None, where: str) -> str:
    try:
        d = date.fromisoformat(str(day).strip())
        t = time.fromisoformat(str(clock).strip()) if clock else time(9, 0)
    except ValueError:
        raise UserInputError(
            f"{where}: '{day}{' ' + str(clock) if clock else ''}' is not a real date and time. Nothing was imported."
        ) from None
    return datetime.combine(d, t).astimezone().isoformat(timespec="seconds")


def _entry_from_record(record: dict[str, Any], where: str) -> Entry:
    try:
        entry = Entry.from_dict(record)
        entry.created  # noqa: B018 - raises if the stored time can't be read
    except (TypeError, ValueError, AttributeError) as exc:
        raise UserInputError(f"{where}: the voicejournal record can't be read ({exc}). Nothing was imported.") from None
    if not isinstance(entry.transcript, str) or not isinstance(entry.id, str):
        raise UserInputError(f"{where}: the voicejournal record is damaged. Nothing was imported.")
    return entry


def _from_jrnl(doc: dict[str, Any], index: int, path: Path) -> Entry:
    where = _where(path, index)
    title = _text(doc.get("title"), "title", where).strip()
    body = _text(doc.get("body"), "body", where).strip()
    tags = _tags(doc.get("tags"), where)
    starred = bool(doc.get("starred", False))
    record = doc.get("voicejournal")
    if isinstance(record, dict):
        entry = _entry_from_record(record, where)
        # The jrnl fields win for what a person may have edited in the file by hand.
        entry.tags, entry.starred = tags, starred
        return entry
    if "date" not in doc:
        raise UserInputError(f"{where}: it has no date. Nothing was imported.")
    # jrnl cut the title at the first sentence end (keep them on one line) or line break.
    text = (title + (" " if title.endswith((".", "?", "!")) else "\n") + body).strip() if body else title
    if not text:
        raise UserInputError(f"{where}: it has no text. Nothing was imported.")
    return Entry(transcript=text, created_at=_moment(doc["date"], doc.get("time"), where), source="text",
                 tags=tags, starred=starred)


_DAYONE_ESCAPE = re.compile(r"\\([\\`*_{}\[\]()#+\-.!>|~])")


def _from_dayone(doc: Any, index: int, path: Path) -> Entry:
    where = _where(path, index)
    if not isinstance(doc, dict):
        raise UserInputError(f"{where}: not an entry. Nothing was imported.")
    # Day One escapes Markdown punctuation in its export ("Tea\. Then"); take it back out.
    text = _DAYONE_ESCAPE.sub(r"\1", _text(doc.get("text"), "text", where)).strip()
    if not text:
        raise UserInputError(f"{where}: it has no text. Nothing was imported.")
    raw_date = doc.get("creationDate")
    if not isinstance(raw_date, str):
        raise UserInputError(f"{where}: it has no creationDate. Nothing was imported.")
    try:
        moment = datetime.fromisoformat(raw_date.replace("Z", "+00:00"))
    except ValueError:
        raise UserInputError(f"{where}: '{raw_date}' is not a real date and time. Nothing was imported.") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    zone = doc.get("timeZone")
    if isinstance(zone, str):
        try:
            from zoneinfo import ZoneInfo  # stdlib; only for Day One imports

            moment = moment.astimezone(ZoneInfo(zone))
        except (KeyError, ValueError, OSError):
            pass  # unknown zone name: keep UTC, still the right moment
    entry = Entry(transcript=text, created_at=moment.isoformat(timespec="seconds"), source="text",
                  tags=_tags(doc.get("tags"), where), starred=bool(doc.get("starred", False)))
    return entry


def _from_ours(doc: dict[str, Any], index: int, path: Path) -> Entry:
    return _entry_from_record(doc, _where(path, index))


# --- folders of Markdown / text ------------------------------------------------------------

_NAME_DATE = re.compile(r"(\d{4})[-_.]?(\d{2})[-_.]?(\d{2})(?:[ T_\-]?(\d{2})[-_:.h]?(\d{2}))?")
_FRONT = re.compile(r"\A---[ \t]*\r?\n(.*?)\r?\n---[ \t]*(?:\r?\n|\Z)", re.DOTALL)


def _front_matter(text: str) -> tuple[dict[str, str], str]:
    """Simple `key: value` front matter (the part of YAML journals use), and the text after it."""
    match = _FRONT.match(text)
    if not match:
        return {}, text
    meta = {}
    for line in match.group(1).splitlines():
        if ":" in line and not line.startswith((" ", "\t", "#")):
            key, value = line.split(":", 1)
            meta[key.strip().lower()] = value.strip().strip("'\"")
    return meta, text[match.end():]


def _front_tags(value: str) -> list[str]:
    value = value.strip().strip("[]")
    return [v.strip().strip("'\"") for v in re.split(r"[,\s]+", value) if v.strip().strip("'\"")]


def _date_from_front(value: str, where: str) -> str:
    value = value.strip()
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise UserInputError(f"{where}: the date '{value}' is not a real date. Nothing was imported.") from None
    if moment.tzinfo is None:
        moment = moment.astimezone()
    return moment.isoformat(timespec="seconds")


def _date_from_name(name: str, where: str) -> str | None:
    match = _NAME_DATE.search(name)
    if not match:
        return None
    y, m, d, hh, mm = match.groups()
    try:
        moment = datetime(int(y), int(m), int(d), int(hh or 9), int(mm or 0))
    except ValueError:
        raise UserInputError(f"{where}: the date in the file name is not a real date. Nothing was imported.") from None
    return moment.astimezone().isoformat(timespec="seconds")


def _read_folder(folder: Path) -> ImportResult:
    result = ImportResult("folder")
    files = sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in (".md", ".markdown", ".txt"))
    if not files:
        raise UserInputError(f"{folder} has no .md or .txt files to import.")
    for file in files:
        where = str(file.relative_to(folder))
        meta, body = _front_matter(_decode(_read_bytes(file), file))
        body = body.replace("\x00", "").strip()
        if not body:
            result.skipped.append(f"{where} (empty)")
            continue
        if len(body) > MAX_ENTRY_CHARS:
            raise UserInputError(f"{where}: the text is over {MAX_ENTRY_CHARS:,} characters. Nothing was imported.")
        created = _date_from_front(meta["date"], where) if meta.get("date") else _date_from_name(file.stem, where)
        if created is None:
            result.skipped.append(f"{where} (no date in front matter or file name)")
            continue
        if meta.get("title") and not body.lstrip("# ").startswith(meta["title"]):
            body = meta["title"] + "\n\n" + body
        tags = _tags(_front_tags(meta.get("tags", "")), where)
        starred = meta.get("starred", "").lower() in ("true", "yes", "1")
        result.entries.append(Entry(transcript=body, created_at=created, source="text", tags=tags, starred=starred))
    return result
