"""Reading and tending the journal: list, show, search, tag, star, edit, delete, export, write."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import click

from voicejournal.cli.common import (
    command,
    entries_table,
    entry_block,
    json_option,
    note,
    one_line,
    open_store,
    print_json,
    short_date,
)
from voicejournal.cli.common import (
    journal_option as common_journal_option,
)
from voicejournal.dates import parse_day
from voicejournal.errors import EntryNotFound, UserInputError
from voicejournal.models import Entry
from voicejournal.store import EntryFilter


def filter_options(func):
    """The filters `list`, `search` and `export` share."""
    options = [
        click.option("--from", "since", metavar="DATE", help="From this day (2026-03-01, 7d, 2w, 3m, yesterday)."),
        click.option("--to", "until", metavar="DATE", help="Up to and including this day."),
        click.option("--on", "on", metavar="DATE", help="Only this day."),
        click.option("--tag", "tags", multiple=True, help="Only entries with this tag (repeatable)."),
        click.option("--starred", is_flag=True, help="Only starred entries."),
        click.option("--practice", help="Only entries from this practice."),
        click.option("--pending", is_flag=True, help="Only entries still waiting for a transcript or reflection."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def build_filter(since, until, on, tags, starred, practice, pending, limit=None, words=()) -> EntryFilter:
    if on and (since or until):
        raise UserInputError("Use --on by itself, or --from/--to, not both.")
    start = parse_day(on or since) if (on or since) else None
    end = parse_day(on or until) if (on or until) else None
    if start and end and start > end:
        raise UserInputError(f"--from ({start}) is after --to ({end}); swap them?")
    return EntryFilter(
        since=start,
        until=end,
        tags=tuple(t.lstrip("#").lower() for t in tags),
        starred=True if starred else None,
        practice=practice,
        status="pending" if pending else None,
        words=tuple(words),
        limit=limit,
    )


def _filters_given(flt: EntryFilter) -> bool:
    return any([flt.since, flt.until, flt.tags, flt.starred, flt.practice, flt.status])


def register(cli: click.Group) -> None:
    @command(cli, "list")
    @click.option("-n", "--number", "limit", type=click.IntRange(min=1), help="Show at most this many.")
    @filter_options
    @json_option
    def list_entries(limit, since, until, on, tags, starred, practice, pending, as_json):
        """List entries, newest first."""
        store = open_store()
        flt = build_filter(since, until, on, tags, starred, practice, pending, limit)
        entries = store.query(flt)
        if as_json:
            print_json([e.to_dict() for e in entries])
            return
        if not entries:
            if _filters_given(flt) and store.count():
                note("No entries match those filters. Try a wider date range or fewer filters.")
            else:
                note("Your journal is empty so far. `voicejournal checkin` records your first entry.")
            return
        click.echo(entries_table(entries))

    @command(cli, "show")
    @click.argument("entry_id", required=False)
    @json_option
    def show(entry_id, as_json):
        """Show one entry in full: the latest, or ENTRY_ID (a unique start of it is enough)."""
        store = open_store()
        if entry_id is None:
            latest = store.query(EntryFilter(limit=1))
            if not latest:
                raise EntryNotFound("Your journal has no entries yet. `voicejournal checkin` records your first.")
            entry = latest[0]
        else:
            entry = store.get(entry_id)
        if as_json:
            print_json(entry.to_dict())
        else:
            click.echo(entry_block(entry))

    @command(cli, "search")
    @click.argument("query", nargs=-1, required=True)
    @click.option("-n", "--number", "limit", type=click.IntRange(min=1), help="Show at most this many.")
    @filter_options
    @json_option
    def search(query, limit, since, until, on, tags, starred, practice, pending, as_json):
        """Find entries whose transcript or reflection has every word of QUERY (any case)."""
        words = [w for w in " ".join(query).split() if w.strip()]
        if not words:
            raise UserInputError("Give something to search for, e.g. voicejournal search sister")
        flt = build_filter(since, until, on, tags, starred, practice, pending, limit, words)
        found = open_store().query(flt)
        if as_json:
            print_json([e.to_dict() for e in found])
        if not found:
            if not as_json:
                note(f"Nothing found for '{' '.join(words)}'.")
            click.get_current_context().exit(1)  # like grep: scripts can tell "no match" from a match
        if as_json:
            return
        pattern = _pattern(words)
        lines = []
        for e in found:
            lines.append(click.style(f"{e.id}  {short_date(e)}", bold=True))
            lines += ["  " + snippet for snippet in _snippets(e, pattern)]
            lines.append("")
        click.echo("\n".join(lines))  # one write: thousands of small ones are slow unbuffered
        note(f"{len(found)} {'entry' if len(found) == 1 else 'entries'} found.")

    # ignore_unknown_options lets "-work" through as a tag to remove, not an option.
    @command(cli, "tag", context_settings={"ignore_unknown_options": True})
    @click.argument("entry_id")
    @click.argument("changes", nargs=-1, required=True, type=click.UNPROCESSED)
    def tag(entry_id, changes):
        """Add (+name or name) or remove (-name) tags: voicejournal tag ID +family -work"""
        add, remove = [], []
        for change in changes:
            name = change.lstrip("+-#").strip().lower()
            if not name or not re.fullmatch(r"[\w][\w\-]{0,39}", name):
                raise UserInputError(
                    f"'{change}' is not a tag I can use. Tags are up to 40 letters, digits, - or _ (e.g. +family)."
                )
            (remove if change.startswith("-") else add).append(name)

        def apply(entry: Entry) -> None:
            tags = [t for t in entry.tags if t not in remove]
            tags += [t for t in add if t not in tags]
            entry.tags = tags

        entry = open_store().modify(entry_id, apply)
        click.echo(f"{entry.id}: " + (" ".join("#" + t for t in entry.tags) or "no tags"))

    def _set_star(entry_id: str, value: bool) -> None:
        def apply(entry: Entry) -> None:
            entry.starred = value

        entry = open_store().modify(entry_id, apply)
        click.echo(f"{entry.id} {'starred ★' if value else 'unstarred'}.")

    @command(cli, "star")
    @click.argument("entry_id")
    def star(entry_id):
        """Star an entry to find it again easily."""
        _set_star(entry_id, True)

    @command(cli, "unstar")
    @click.argument("entry_id")
    def unstar(entry_id):
        """Remove an entry's star."""
        _set_star(entry_id, False)

    @command(cli, "edit")
    @click.argument("entry_id")
    def edit(entry_id):
        """Correct an entry's transcript in your $EDITOR."""
        store = open_store()
        entry = store.get(entry_id)
        from voicejournal.editor import edit_text

        edited = edit_text(entry.transcript)
        if edited is None or edited.strip() == entry.transcript.strip():
            note("No changes; the entry is as it was.")
            return
        if not edited.strip():
            note("The text was empty, so nothing was changed. (To remove an entry, use `voicejournal delete`.)")
            return

        def apply(current: Entry) -> None:
            current.transcript = edited.strip()

        store.modify(entry.id, apply)
        click.echo(f"Saved your changes to {entry.id}.")
        from voicejournal.names import learn_from_correction

        learned = learn_from_correction(store, entry.transcript, edited.strip())
        if learned:
            note(f"Whisper will now spell {_and(learned)} as you did (`voicejournal names` lists the names).")

    @cli.group("names", invoke_without_command=True)
    @common_journal_option
    @json_option
    @click.pass_context
    def names(ctx, as_json):
        """The names of the people in your journal, which Whisper is given so it spells them as you do.

        Learned from names that recur in your entries, from tags, and from your corrections
        with `edit`. `names add Saoirse` and `names remove Sam` change the list.
        """
        if ctx.invoked_subcommand is not None:
            return
        from voicejournal.names import MAX_NAMES, journal_names

        found = journal_names(open_store())
        if as_json:
            print_json([n.to_dict() for n in found])
            return
        if not found:
            note("No names yet. They are learned as names recur in your entries; "
                 "`voicejournal names add Saoirse` adds one now.")
            return
        width = max(len(n.name) for n in found)
        for i, n in enumerate(found):
            if i == MAX_NAMES:
                click.echo(click.style(f"-- only the first {MAX_NAMES} are given to Whisper --", dim=True))
            seen = f"{n.entries} entr{'y' if n.entries == 1 else 'ies'}" if n.entries else "no entries yet"
            last = f", last {n.last_seen}" if n.entries and n.last_seen else ""
            click.echo(f"{n.name:<{width}}  {n.source:<9}  {seen}{last}")

    @names.command("add")
    @common_journal_option
    @click.argument("name", nargs=-1, required=True)
    def names_add(name):
        """Add a name (one or two words), so Whisper spells it as you do: names add Saoirse"""
        from voicejournal.names import add_name

        kept = add_name(open_store(), " ".join(name))
        click.echo(f"Added {kept}.")

    @names.command("remove")
    @common_journal_option
    @click.argument("name", nargs=-1, required=True)
    def names_remove(name):
        """Take a name off the list for good (it won't be learned back): names remove Sam"""
        from voicejournal.names import remove_name

        gone = remove_name(open_store(), " ".join(name))
        click.echo(f"Removed {gone}; it won't be given to Whisper or learned again (`names add {gone}` undoes this).")

    @command(cli, "delete")
    @click.argument("entry_id")
    @click.option("--yes", "-y", is_flag=True, help="Don't ask first.")
    def delete(entry_id, yes):
        """Delete an entry and its recording."""
        store = open_store()
        entry = store.get(entry_id)
        if not yes:
            click.echo(f"{entry.id}  {short_date(entry)}  {one_line(entry.transcript, 60)}")
            try:
                sure = click.confirm("Delete this entry and its recording? This can't be undone", default=False)
            except click.Abort:  # no answer could be read (e.g. stdin closed)
                raise UserInputError("Nothing was deleted. Add --yes to delete without being asked.") from None
            if not sure:
                note("Kept it.")
                return
        store.delete(entry.id)
        click.echo(f"Deleted {entry.id}.")

    @command(cli, "export")
    @click.option(
        "--format", "fmt", type=click.Choice(["md", "json", "txt", "jrnl"]), default="md", show_default=True,
        help="Markdown for notes apps, JSON for scripts, plain text, or jrnl's JSON (to move to jrnl).",
    )
    @click.option("--output", "-o", type=click.Path(dir_okay=False, writable=True), help="Write to this file.")
    @filter_options
    def export(fmt, output, since, until, on, tags, starred, practice, pending):
        """Export entries (oldest first) to keep, print or move elsewhere."""
        from voicejournal.export import FORMATS

        flt = build_filter(since, until, on, tags, starred, practice, pending)
        store = open_store()
        entries = list(reversed(store.query(flt)))
        if not entries:
            note("No entries to export.")
        if fmt == "jrnl":
            from voicejournal.interop import to_jrnl as render
        else:
            render = FORMATS[fmt]
        if fmt == "json":
            from voicejournal.export import to_json
            from voicejournal.names import journal_names

            text = to_json(entries, names=[n.to_dict() for n in journal_names(store)],
                           name_decisions=store.name_records())
        else:
            text = render(entries)
        if output:
            from voicejournal.store import atomic_write_bytes

            path = Path(output)
            try:
                atomic_write_bytes(path, text.encode("utf-8"))
            except OSError as exc:
                raise UserInputError(f"Can't write {path}: {exc.strerror}.") from None
            note(f"Exported {len(entries)} entries to {path}. The file is not encrypted; keep it somewhere private.")
        else:
            click.echo(text, nl=False)

    @command(cli, "write")
    @click.argument("text", required=False)
    @click.option("--practice", help="Which practice this entry belongs to.")
    @click.option("--tag", "tags", multiple=True, help="Tag the entry (repeatable).")
    @click.option("--offline", is_flag=True, help="Reflect with the offline reflector, whatever is configured.")
    def write(text, practice, tags, offline):
        """Write an entry by typing: TEXT, '-' for stdin, or nothing to open $EDITOR."""
        if practice:
            from voicejournal.reflection.practices import get_practice

            practice = get_practice(practice).name  # an unknown name is refused before anything is saved
        if text == "-" or (text is None and not sys.stdin.isatty()):
            raw = sys.stdin.buffer.read()
            text = raw.decode("utf-8", errors="replace")
        elif text is None:
            from voicejournal.editor import edit_text

            text = edit_text("") or ""
        text = text.replace("\x00", "").strip()
        if not text:
            raise UserInputError("The entry was empty, so nothing was saved.")
        entry = Entry(transcript=text, source="text", practice=practice,
                      tags=[t.lstrip("#").lower() for t in tags])
        store = open_store()
        store.add(entry)
        click.echo(f"Saved entry {entry.id}.")
        _reflect_on(store, entry, offline)


def _reflect_on(store, entry: Entry, offline: bool) -> None:
    """Reflect on a just-saved entry and print the reflection, or the safety message and helplines."""
    from voicejournal.cli.common import load_config
    from voicejournal.cli.reflect import consent_asker, show_result
    from voicejournal.reflection import get_reflector
    from voicejournal.session import complete_entry

    config = load_config()
    reflector = get_reflector(config, offline=offline, ask=consent_asker())
    complete_entry(store, entry, config, reflector=reflector)
    if reflector.last_result is not None:
        click.echo()
        show_result(reflector.last_result)


def _and(words: list[str]) -> str:
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


def _pattern(words: list[str]) -> re.Pattern[str]:
    return re.compile("|".join(re.escape(w) for w in sorted(words, key=len, reverse=True)), re.IGNORECASE)


def _snippets(entry: Entry, pattern: re.Pattern[str], radius: int = 60) -> list[str]:
    """Short excerpts around the matches, with the matched words highlighted."""
    out = []
    sources = [("", entry.transcript)]
    if entry.reflection:
        sources.append(("reflection: ", entry.reflection.text))
    for label, text in sources:
        flat = " ".join(text.split())
        first = pattern.search(flat)
        if first is None:
            continue
        # A window around the first match: every match in it is highlighted.
        start = max(0, first.start() - radius)
        end = min(len(flat), first.end() + 2 * radius)
        piece = flat[start:end]
        piece = pattern.sub(lambda m: click.style(m.group(0), fg="yellow", bold=True, underline=True), piece)
        out.append(label + ("…" if start else "") + piece + ("…" if end < len(flat) else ""))
    return out
