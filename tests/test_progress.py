"""Progress, look-back and the weekly review, on a generated two-year journal with known themes."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from datetime import date, datetime
from pathlib import Path

import pytest
from journal_factory import PLAN, GeneratedJournal, two_year_journal, write_journal

from voicejournal.models import Entry, Theme
from voicejournal.progress import (
    NARRATIVES,
    lookback,
    month_end,
    progress_for,
    week_review,
    wording,
)

COUNTERS = [*PLAN, "entries", "days"]


@pytest.fixture(scope="session")
def journal() -> GeneratedJournal:
    return two_year_journal()


@pytest.fixture
def on_disk(journal: GeneratedJournal, journal_path: Path) -> Path:
    return write_journal(journal_path, journal.entries)


def at(day: str, text: str = "A day.", *themes: Theme, hour: int = 12) -> Entry:
    moment = datetime.fromisoformat(f"{day}T{hour:02d}:00:00").astimezone()
    return Entry(transcript=text, created_at=moment.isoformat(timespec="seconds"), themes=list(themes))


# --- the counts ----------------------------------------------------------------------------


def test_counts_are_exact_for_every_month_of_two_years(journal):
    result = progress_for(journal.entries, since=date(2024, 1, 1), until=date(2025, 12, 31))
    assert [m.month for m in result.months] == journal.months
    for month in result.months:
        for key in COUNTERS:
            assert month.get(key) == journal.count(key, month.month), (month.month, key)
    assert result.entries == len(journal.entries) == sum(journal.series("entries"))
    assert result.days < result.entries  # some days hold two entries


def test_cli_json_counts_match_the_plan_through_the_journal_file(run, on_disk, journal):
    out = run("progress", "--from", "2024-01-01", "--to", "2025-12-31", "--json")
    assert out.exit_code == 0, out.output
    data = json.loads(out.output)
    assert [m["month"] for m in data["months"]] == journal.months
    for month in data["months"]:
        key = month["month"]
        assert month["entries"] == journal.count("entries", key)
        assert month["days"] == journal.count("days", key)
        for story in NARRATIVES:
            assert month["narratives"][story] == journal.count(story, key)
        for pattern in ("anxious_checking", "withdrawing", "expecting_worst"):
            assert month["patterns"][pattern] == journal.count(pattern, key)
        for kind in ("connection", "corrective", "curiosity"):
            assert month[kind] == journal.count(kind, key)
        assert month["steps_set"] == journal.count("set", key)
        assert month["steps_followed_up"] == journal.count("followed_up", key)


def test_months_option_counts_back_from_to(run, on_disk, journal):
    data = json.loads(run("progress", "--months", "3", "--to", "2025-12-31", "--json").output)
    assert [m["month"] for m in data["months"]] == ["2025-10", "2025-11", "2025-12"]
    assert data["entries"] == sum(journal.count("entries", k) for k in ("2025-10", "2025-11", "2025-12"))


def test_a_theme_noted_twice_on_one_entry_counts_once():
    entry = at("2025-05-02", "x", Theme("narrative", "people_leave", ["a"]), Theme("narrative", "people_leave", ["b"]))
    other = at("2025-05-03", "y", Theme("narrative", "made_up", ["c"]))
    result = progress_for([entry, other], since=date(2025, 5, 1), until=date(2025, 5, 31))
    assert result.months[0].narratives["people_leave"] == 1
    assert sum(result.months[0].narratives.values()) == 1


def test_the_table_shows_every_month_and_the_sentences(run, on_disk):
    out = run("progress", "--to", "2025-12-31")
    assert out.exit_code == 0
    lines = out.output.splitlines()
    assert "Jan  Feb  Mar  Apr  May  Jun  Jul  Aug  Sep  Oct  Nov  Dec" in out.output
    row = next(line for line in lines if '"people always leave"' in line)
    assert row.split()[-12:] == [str(n) if n else "·" for n in PLAN["people_leave"][12:]]
    assert "streak" not in out.output.lower()


# --- the sentences -------------------------------------------------------------------------


def test_sentences_for_the_last_year_say_what_the_numbers_say(journal):
    result = progress_for(journal.entries, today=date(2025, 12, 31))
    days = sum(journal.count("days", k) for k in journal.months[12:])
    entries = sum(journal.count("entries", k) for k in journal.months[12:])
    assert result.sentences == [
        'The old story "people always leave" came up 3 times in January and twice in December.',
        "You recorded 5 moments of connection in December, 2 moments in January.",
        f"You came to the journal on {days} different days, {entries} entries in all.",
    ]


def test_sentences_for_two_years_name_the_years(journal):
    result = progress_for(journal.entries, since=date(2024, 1, 1), until=date(2025, 12, 31))
    assert result.sentences[:2] == [
        'The old story "people always leave" came up 9 times in January 2024 and twice in December 2025.',
        "You recorded 5 moments of connection in December 2025, none in January 2024.",
    ]


def test_a_month_without_entries_is_not_read_as_the_story_fading(journal):
    # November 2024 has no entries: the comparison ends in October, not "not once in November".
    result = progress_for(journal.entries, since=date(2024, 7, 1), until=date(2024, 11, 30))
    assert result.months[-1].entries == 0
    assert result.sentences[0] == 'The old story "people always leave" came up 5 times in July and 4 times in October.'


@pytest.mark.parametrize("end_index", [5, 9, 14, 19, 23])
@pytest.mark.parametrize("length", [3, 6, 12])
def test_sentence_numbers_follow_from_the_plan(journal, end_index, length):
    """Whatever the window, each number in the sentences is the plan's number for that month."""
    keys = journal.months[max(0, end_index - length + 1): end_index + 1]
    start, end = date.fromisoformat(keys[0] + "-01"), month_end(date.fromisoformat(keys[-1] + "-01"))
    result = progress_for(journal.entries, since=start, until=end)
    active = [k for k in keys if journal.count("entries", k)]
    spoken = {"not once": 0, "once": 1, "twice": 2, "none": 0, "one moment": 1}

    def number(text: str) -> int:
        return spoken[text] if text in spoken else int(text.split()[0])

    year = len({k[:4] for k in active}) > 1
    name = {k: datetime.strptime(k, "%Y-%m").strftime("%B %Y" if year else "%B") for k in active}
    for sentence in result.sentences:
        story = re.match(r'The old story "(.+)" came up (.+) in (.+) and (.+) in (.+)\.$', sentence)
        if story:
            key = next(k for k in NARRATIVES if wording()[f"name.{k}"] == story[1])
            peak_month = next(k for k in active if name[k] == story[3])
            assert number(story[2]) == journal.count(key, peak_month) == max(journal.count(key, k) for k in active)
            assert story[5] == name[active[-1]]
            assert number(story[4]) == journal.count(key, active[-1]) < number(story[2])
        connection = re.match(r"You recorded (.+) of connection in (.+), (.+?)(?: of connection)? in (.+)\.$",
                              sentence)
        if connection:
            assert connection[2] == name[active[-1]] and connection[4] == name[active[0]]
            assert number(connection[1]) == journal.count("connection", active[-1])
            assert number(connection[3]) == journal.count("connection", active[0])
        days = re.match(r"You came to the journal on (\d+) different days, (\d+) entries in all\.$", sentence)
        if days:
            assert int(days[1]) == sum(journal.count("days", k) for k in keys)
            assert int(days[2]) == sum(journal.count("entries", k) for k in keys)
    assert 2 <= len(result.sentences) <= 3
    assert result.sentences[-1].startswith("You came to the journal on")


def test_a_story_that_rose_is_named_gently():
    entries = [at("2025-01-05", "a", Theme("narrative", "too_much", ["t"])),
               at("2025-02-05", "b"),
               *[at(f"2025-03-{d:02d}", "c", Theme("narrative", "too_much", ["t"])) for d in (3, 9, 17)]]
    result = progress_for(entries, since=date(2025, 1, 1), until=date(2025, 3, 31))
    assert result.sentences[0].startswith('The story "I\'m too much" has been speaking up more lately (3 times in March)')


def test_wording_never_grades_or_counts_streaks():
    # The stories' names are the person's old words ("I can only count on myself"); the rest is ours.
    text = " ".join(v for k, v in wording().items() if not k.startswith("name.")).lower()
    for word in ("streak", "fail", "should", "must", "only ", "bad", "!", "well done", "behind"):
        assert word not in text, word


# --- too little to chart -------------------------------------------------------------------


def test_an_empty_journal_gets_a_kind_message_and_no_picture(run, tmp_path):
    picture = tmp_path / "p.png"
    out = run("progress", "--plot", str(picture))
    assert out.exit_code == 0
    assert "empty so far" in out.output
    assert "No picture was drawn" in out.output
    assert not picture.exists()
    data = json.loads(run("progress", "--json").output)
    assert data["sentences"] == [] and "empty so far" in data["message"]


def test_one_entry_gets_a_kind_message_and_no_picture(run, tmp_path):
    run("write", "First time trying this.")
    picture = tmp_path / "p.png"
    out = run("progress", "--plot", str(picture))
    assert out.exit_code == 0
    assert out.output.startswith("There is one entry so far, from ")
    assert not picture.exists()


def test_a_window_without_entries_says_the_rest_are_still_there(run, on_disk):
    out = run("progress", "--from", "2030-01-01", "--to", "2030-02-01")
    assert out.exit_code == 0
    assert "no entries between 1 January 2030 and 1 February 2030" in out.output


@pytest.mark.parametrize("args, says", [
    (["--months", "0"], "1 or more"),
    (["--months", "3", "--from", "2025-01-01"], "not both"),
    (["--from", "2025-05-01", "--to", "2025-01-01"], "swap them"),
    (["--from", "last tuesday"], "not a date I can read"),
])
def test_bad_windows_get_one_clear_message(run, on_disk, args, says):
    before = on_disk.read_bytes()
    out = run("progress", *args)
    assert out.exit_code == 2
    assert says in out.output and "Traceback" not in out.output
    assert on_disk.read_bytes() == before


def test_a_damaged_journal_is_reported_and_left_alone(run, journal_path):
    journal_path.parent.mkdir(parents=True, exist_ok=True)
    journal_path.write_text('{"entries": {"1": ', encoding="utf-8")
    for command in (["progress"], ["lookback"], ["review", "--week"]):
        out = run(*command)
        assert out.exit_code == 4 and "damaged" in out.output
    assert journal_path.read_text(encoding="utf-8") == '{"entries": {"1": '


def test_progress_never_loads_the_plotting_library(on_disk):
    code = (
        "import sys; from click.testing import CliRunner; from voicejournal.cli import cli;"
        f"r = CliRunner().invoke(cli, ['--journal', {str(on_disk)!r}, 'progress']);"
        "assert r.exit_code == 0, r.output; assert 'matplotlib' not in sys.modules; print('ok')"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.stdout.strip() == "ok", done.stderr


# --- look-back -----------------------------------------------------------------------------


@pytest.fixture
def lookback_entries() -> list[Entry]:
    return [
        at("2024-01-05", "I was sure everyone ends up leaving.", Theme("narrative", "people_leave",
                                                                        ["everyone ends up leaving"])),
        at("2024-03-14", "Two years ago today."),
        at("2025-03-13", "The day before a year ago."),
        at("2025-03-14", "A year ago, morning.", hour=8),
        at("2025-03-14", "A year ago, evening.", hour=21),
        at("2025-09-14", "Six months back."),
        at("2026-02-14", "One month back. Sam hugged me.", Theme("connection", "connection", ["Sam hugged me"])),
        at("2026-03-14", "Today I felt people always drift away, then Ana called.",
           Theme("narrative", "people_leave", ["people always drift away"]),
           Theme("connection", "connection", ["Ana called"])),
    ]


def test_lookback_finds_the_same_day_months_and_years_ago(lookback_entries):
    result = lookback(lookback_entries, today=date(2026, 3, 14))
    assert [(d.label, d.day.isoformat(), [e.transcript for e in d.entries]) for d in result.days] == [
        ("One month ago", "2026-02-14", ["One month back. Sam hugged me."]),
        ("Six months ago", "2025-09-14", ["Six months back."]),
        ("One year ago", "2025-03-14", ["A year ago, morning.", "A year ago, evening."]),
        ("2 years ago", "2024-03-14", ["Two years ago today."]),
    ]
    assert result.current.transcript.startswith("Today I felt")
    firsts = {(m.name, m.entry.transcript, m.words) for m in result.first_mentions}
    assert firsts == {
        ("people_leave", "I was sure everyone ends up leaving.", "I was sure everyone ends up leaving."),
        ("connection", "One month back. Sam hugged me.", "Sam hugged me."),
    }


def test_lookback_from_the_end_of_a_month_uses_its_last_day(lookback_entries):
    entries = [*lookback_entries, at("2026-02-28", "End of February."), at("2026-03-31", "Last of March.")]
    result = lookback(entries, today=date(2026, 3, 31))
    assert result.days[0].day == date(2026, 2, 28)


def test_lookback_cli_text_and_json(run, journal_path, lookback_entries):
    write_journal(journal_path, lookback_entries)
    out = run("lookback", "--date", "2026-03-14")
    assert out.exit_code == 0
    assert "One year ago · Friday 14 March 2025" in out.output
    assert 'The earliest entry about "people always leave" is from 5 January 2024:' in out.output
    data = json.loads(run("lookback", "--date", "2026-03-14", "--json").output)
    assert [d["label"] for d in data["on_this_day"]] == ["One month ago", "Six months ago", "One year ago",
                                                         "2 years ago"]
    assert data["first_mentions"][0]["entry"]["transcript"] == "I was sure everyone ends up leaving."
    older = run("lookback", "--date", "2026-03-14", "--entry", lookback_entries[-2].id, "--json")
    assert json.loads(older.output)["first_mentions"] == []  # nothing came before Sam's hug


def test_lookback_on_the_generated_journal_matches_the_calendar(journal):
    today = date(2025, 10, 20)
    result = lookback(journal.entries, today=today)
    by_day: dict[date, int] = {}
    for e in journal.entries:
        day = e.created.astimezone().date()
        by_day[day] = by_day.get(day, 0) + 1
    wanted = [date(2025, 9, 20), date(2025, 4, 20), date(2024, 10, 20)]
    assert [(d.day, len(d.entries)) for d in result.days] == [(d, by_day[d]) for d in wanted if d in by_day]


def test_lookback_on_an_empty_journal_is_kind(run):
    out = run("lookback")
    assert out.exit_code == 0 and "empty so far" in out.output


def test_lookback_with_nothing_on_this_day(run, journal_path):
    write_journal(journal_path, [at("2026-03-10", "Just started.")])
    out = run("lookback", "--date", "2026-03-14")
    assert "Every entry you make now is one you can look back on later." in out.output


# --- the weekly review ---------------------------------------------------------------------


def test_week_review_names_themes_steps_and_what_went_well(run, journal_path):
    entries = [
        at("2026-03-01", "Outside the week. I kept checking my phone.",
           Theme("pattern", "anxious_checking", ["I kept checking my phone"])),
        at("2026-03-09", "I kept checking my phone all night. This week I'll ask Jo for coffee.",
           Theme("pattern", "anxious_checking", ["I kept checking my phone"]),
           Theme("small_step", "set", ["This week I'll ask Jo for coffee"])),
        at("2026-03-11", "I asked Jo and she said yes. We laughed a lot.",
           Theme("small_step", "followed_up", ["I asked Jo"]),
           Theme("connection", "connection", ["We laughed a lot"])),
        at("2026-03-15", "Everyone ends up leaving, I thought. Then I got curious about that thought.",
           Theme("narrative", "people_leave", ["Everyone ends up leaving"]),
           Theme("curiosity", "curiosity", ["I got curious about that thought"])),
    ]
    write_journal(journal_path, entries)
    out = run("review", "--week", "--date", "2026-03-15")
    assert out.exit_code == 0
    assert out.output.splitlines()[:3] == [
        "Your week, 9 March 2026 to 15 March 2026",
        "You made 3 entries on 3 days this week.",
        'What came up: "people always leave" (once), anxious checking (once).',
    ]
    assert "  - This week I'll ask Jo for coffee." in out.output
    assert "You told the journal how one small step went." in out.output
    assert "  - We laughed a lot." in out.output
    assert "  - Then I got curious about that thought." in out.output
    data = json.loads(run("review", "--date", "2026-03-15", "--json").output)
    assert data["steps_followed_up"] == 1 and len(data["went_well"]) == 2


def test_a_quiet_week_is_met_kindly():
    review = week_review([at("2026-01-01", "Long ago.")], end=date(2026, 3, 15))
    assert review.lines() == ["Your week, 9 March 2026 to 15 March 2026",
                              "There are no entries from 9 March 2026 to 15 March 2026. That's alright; "
                              "the journal is here whenever you want it."]


def test_counts_what_the_real_reflector_stored(run, journal_path):
    """End to end with the offline reflector: entries reflected on, themes stored, then counted."""
    from voicejournal.config import Config
    from voicejournal.session import complete_entry
    from voicejournal.store import open_store

    store = open_store(journal_path)
    texts = {
        "2025-01-10": "Nobody stays. People always leave me in the end, and I kept checking my phone all night.",
        "2025-01-20": "Everyone leaves eventually, I told myself again when she went quiet.",
        "2025-06-10": "My sister called and we laughed together for an hour; I felt really close to her.",
    }
    for day, text in texts.items():
        complete_entry(store, store.add(at(day, text)), Config())
    stored = {e.created.date().isoformat(): {(t.kind, t.name) for t in e.themes} for e in store.all()}
    data = json.loads(run("progress", "--from", "2025-01-01", "--to", "2025-06-30", "--json").output)
    months = {m["month"]: m for m in data["months"]}
    assert months["2025-01"]["narratives"]["people_leave"] == sum(
        ("narrative", "people_leave") in stored[d] for d in ("2025-01-10", "2025-01-20"))
    assert months["2025-01"]["narratives"]["people_leave"] >= 1
    assert months["2025-06"]["connection"] == 1 == int(("connection", "connection") in stored["2025-06-10"])
    assert [m["entries"] for m in data["months"]] == [2, 0, 0, 0, 0, 1]


def test_days_sentence_reads_right_for_a_single_day(run, journal_path):
    """Regression: one day of entries read "on 1 different days"."""
    run("write", "A quiet morning with coffee.")
    run("write", "Later I called Sam and felt better.")
    out = run("progress").output
    assert "on one day, 2 entries in all." in out
    assert "1 different days" not in out
