"""The long view: `progress`, `lookback`, `report` and `review`.

The numbers and sentences come from `voicejournal.progress`, the pictures from
`voicejournal.report`; this module only parses options, calls them and prints.
"""

from __future__ import annotations

from pathlib import Path

import click

from voicejournal.cli.common import command, json_option, note, open_store, print_json, terminal_width
from voicejournal.dates import parse_day


def _window_options(func):
    options = [
        click.option("--months", type=int, metavar="N", help="The last N months (up to --to, or today)."),
        click.option("--from", "since", metavar="DATE", help="From this day (2026-03-01, 3m, 1y, ...)."),
        click.option("--to", "until", metavar="DATE", help="Up to and including this day."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def _day(text: str | None):
    return parse_day(text) if text else None


def _speak(lines: list[str], speak_to: str | None) -> None:
    """Read `lines` aloud; if speech can't be had, say why (the text is already printed)."""
    try:
        # pyttsx3 and audio libraries load only when something is to be spoken.
        from voicejournal.speech import get_speaker
    except ImportError:
        note("Speaking isn't available in this installation, so it is shown as text only.")
        return
    from voicejournal.cli.common import load_config

    # Asking for --speak overrides `speak = false` in the settings.
    speaker = get_speaker(load_config(speak=True), speak_to=Path(speak_to) if speak_to else None)
    try:
        speaker.say_sentences(lines)
    finally:
        close = getattr(speaker, "close", None)
        if close:
            close()
    problem = speaker.take_problem() if hasattr(speaker, "take_problem") else getattr(speaker, "problem", None)
    if problem:
        note(f"It couldn't be read aloud ({problem}); the text is above.")
    elif speak_to:
        note(f"The spoken words were saved to {speak_to}.")


_speak_options = [
    click.option("--speak", is_flag=True, help="Read it aloud as well."),
    click.option("--speak-to", metavar="WAV", type=click.Path(dir_okay=False),
                 help="Save the spoken words to this WAV file instead of playing them."),
]


def _with_speak(func):
    for option in reversed(_speak_options):
        func = option(func)
    return func


def progress_table(progress, width: int | None = None) -> str:
    """Months across, counts down; zeros shown as a quiet dot. Wraps to the terminal width."""
    from voicejournal.progress import GOOD, NARRATIVES, PATTERNS, STEPS, label, wording

    words = wording()
    rows: list[tuple[str, list[int] | None]] = [
        (words["row.entries"], progress.series("entries")),
        (words["row.days"], progress.series("days")),
        (words["row.stories"], None),
        *[(f'  "{label(k)}"', progress.series(k)) for k in NARRATIVES],
        (words["row.patterns"], None),
        *[(f"  {label(k)}", progress.series(k)) for k in PATTERNS],
        (words["row.good"], None),
        *[(f"  {label(k)}", progress.series(k)) for k in (*GOOD, *STEPS)],
    ]
    label_w = max(len(r[0]) for r in rows) + 2
    col = 5
    per_block = max(1, ((width or terminal_width()) - label_w) // col)
    keys = [m.month for m in progress.months]
    blocks = []
    for at in range(0, len(keys), per_block):
        chunk = keys[at: at + per_block]
        years, names = " " * label_w, " " * label_w
        last_year = None
        for key in chunk:
            year = key[:4]
            years += f"{year if year != last_year else '':>{col}}"
            last_year = year
            names += f"{_abbr(key):>{col}}"
        lines = [click.style(years.rstrip(), dim=True), click.style(names, bold=True)]
        for name, series in rows:
            if series is None:
                lines.append(click.style(name, bold=True))
                continue
            cells = "".join(f"{(series[at + i] or '·')!s:>{col}}" for i in range(len(chunk)))
            lines.append(f"{name:<{label_w}}{cells}")
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)


def _abbr(key: str) -> str:
    from datetime import date

    return date.fromisoformat(key + "-01").strftime("%b")


def register(cli: click.Group) -> None:
    @command(cli, "progress")
    @_window_options
    @click.option("--plot", "plot", metavar="FILE.png", type=click.Path(dir_okay=False),
                  help="Also draw the monthly counts as a picture (needs the plot extra: matplotlib).")
    @json_option
    def progress_cmd(months, since, until, plot, as_json):
        """How things have moved, month by month: entries, days journaled, the old stories and
        patterns, moments of connection, corrective experiences, curiosity and small steps."""
        from voicejournal.progress import progress_for, say

        entries = open_store().all()
        result = progress_for(entries, months=months, since=_day(since), until=_day(until))
        if as_json:
            print_json(result.to_dict())
        elif result.message:
            click.echo(result.message)
        else:
            click.echo(progress_table(result))
            click.echo()
            for sentence in result.sentences:
                click.echo(sentence)
        if plot:
            if not result.enough:
                note(say("plot.skipped"))
                return
            from voicejournal.report import plot_progress

            plot_progress(result, Path(plot))
            note(f"The picture is in {plot}.")

    @command(cli, "lookback")
    @click.option("--date", "on", metavar="DATE", help="Look back from this day instead of today.")
    @click.option("--entry", "entry_id", metavar="ID", help="Find the first mentions of this entry's themes "
                  "(default: your latest entry).")
    @_with_speak
    @json_option
    def lookback_cmd(on, entry_id, speak, speak_to, as_json):
        """On this day: entries from a month, six months, a year and more ago, and the first
        time each theme of your latest entry came up, so you can hear how you spoke about it then."""
        from voicejournal.progress import lookback, say

        store = open_store()
        current = store.get(entry_id) if entry_id else None
        result = lookback(store.all(), today=_day(on), current=current)
        if as_json:
            print_json(result.to_dict())
        else:
            _print_lookback(result, say)
        if (speak or speak_to) and not result.message:
            _speak(result.spoken(), speak_to)

    @command(cli, "review")
    @click.option("--week", is_flag=True, help="The seven days ending today or on --date (the default).")
    @click.option("--date", "on", metavar="DATE", help="The week ending on this day instead of today.")
    @_with_speak
    @json_option
    def review_cmd(week, on, speak, speak_to, as_json):
        """A weekly review: the week's themes, the small steps you set, and what went well."""
        from voicejournal.progress import week_review

        result = week_review(open_store().all(), end=_day(on))
        if as_json:
            print_json(result.to_dict())
        else:
            lines = result.lines()
            click.echo(click.style(lines[0], bold=True))
            click.echo("\n".join(lines[1:]))
        if speak or speak_to:
            _speak([line.strip().lstrip("- ") for line in result.lines()], speak_to)

    @command(cli, "report")
    @click.option("--html", "html_path", metavar="FILE", type=click.Path(dir_okay=False), required=True,
                  help="Write one self-contained web page here (works offline, no scripts).")
    @_window_options
    def report_cmd(html_path, months, since, until):
        """A page to keep: the monthly trend, the old stories over time, moments of connection in
        your own words and a timeline of entries. Opens in any browser, with no network."""
        from voicejournal.progress import progress_for
        from voicejournal.report import write_html_report

        entries = open_store().all()
        result = progress_for(entries, months=months, since=_day(since), until=_day(until),
                              default_months=None)
        write_html_report(entries, result, Path(html_path))
        note(f"Wrote {html_path}. It holds your journal's words; keep it somewhere private.")
        if result.message:
            click.echo(result.message)


def _print_lookback(result, say) -> None:
    from voicejournal.progress import entry_day, excerpt

    if result.message:
        click.echo(result.message)
        return
    for item in result.days:
        click.echo(click.style(f"{item.label} · {item.day:%A} {item.day.day} {item.day:%B %Y}", bold=True))
        for entry in item.entries:
            click.echo(f"  {entry.id}  " + excerpt(entry, width=400))
        click.echo()
    for mention in result.first_mentions:
        day = entry_day(mention.entry)
        click.echo(click.style(say("lookback.earliest", story=mention.story, day=f"{day.day} {day:%B %Y}"), bold=True))
        click.echo(f"  {mention.entry.id}  {mention.words}")
        click.echo()
