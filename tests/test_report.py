"""The pictures: `progress --plot` (matplotlib PNG) and `report --html` checked in a real headless Chromium."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from datetime import date, datetime
from pathlib import Path

import pytest
from journal_factory import GeneratedJournal, two_year_journal, write_journal

from voicejournal.models import Entry, Theme
from voicejournal.progress import progress_for
from voicejournal.report import html_report

INJECTION = '<script>document.title="pwned"</script><img src=x onerror="document.title=\'pwned\'"> & "quotes"'


@pytest.fixture(scope="session")
def journal() -> GeneratedJournal:
    generated = two_year_journal()
    # A transcript and a trigger full of markup: it must stay text.
    last = generated.entries[-1]
    last.transcript += " " + INJECTION
    last.themes.append(Theme("connection", "connection", [INJECTION]))
    return generated


@pytest.fixture
def on_disk(journal: GeneratedJournal, journal_path: Path) -> Path:
    return write_journal(journal_path, journal.entries)


def at(day: str, text: str, *themes: Theme) -> Entry:
    moment = datetime.fromisoformat(f"{day}T12:00:00").astimezone()
    return Entry(transcript=text, created_at=moment.isoformat(timespec="seconds"), themes=list(themes))


def _connection_entries(journal: GeneratedJournal) -> list[Entry]:
    return [e for e in journal.entries if any(t.kind == "connection" for t in e.themes)]


# --- the HTML page -------------------------------------------------------------------------


def test_the_page_is_self_contained_and_escapes_every_word(journal):
    page = html_report(journal.entries, progress_for(journal.entries, today=date(2025, 12, 31),
                                                     default_months=None))
    assert "<script" not in page and "onerror=" not in page.replace("onerror=&quot;", "")
    assert "&lt;script&gt;document.title=&quot;pwned&quot;&lt;/script&gt;" in page
    assert "Content-Security-Policy" in page and "default-src 'none'" in page
    # Nothing to fetch: no scripts, stylesheets, fonts or images from anywhere.
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:|//)""", page)
    assert "@import" not in page and "url(" not in page
    urls = set(re.findall(r"https?://[^\s\"'<>]+", page))
    assert urls == {"http://www.w3.org/2000/svg"}  # the SVG namespace name, never loaded


def test_the_page_holds_the_charts_quotes_and_timeline(journal):
    progress = progress_for(journal.entries, today=date(2025, 12, 31), default_months=None)
    page = html_report(journal.entries, progress)
    assert page.count("<svg") == 4
    assert page.count("<blockquote>") == len(_connection_entries(journal))
    assert page.count('<div class="entry">') == len(journal.entries)
    for sentence in progress.sentences:
        assert sentence.replace('"', "&quot;") in page
    assert "Sam hugged me at the station." in page


@pytest.mark.parametrize("entries", [[], [at("2026-02-03", "My first entry <b>ever</b>.")]])
def test_zero_or_one_entry_gives_a_kind_page_without_empty_charts(run, journal_path, tmp_path, entries):
    write_journal(journal_path, entries)
    page_path = tmp_path / "report.html"
    out = run("report", "--html", str(page_path))
    assert out.exit_code == 0
    page = page_path.read_text(encoding="utf-8")
    assert "<svg" not in page
    assert ("empty so far" if not entries else "There is one entry so far, from 3 February 2026") in page
    if entries:
        assert "My first entry &lt;b&gt;ever&lt;/b&gt;." in page
    assert page_path.stat().st_mode & 0o777 == 0o600  # it holds the person's words


def test_report_into_a_missing_folder_says_so(run, on_disk, tmp_path):
    out = run("report", "--html", str(tmp_path / "nowhere" / "r.html"))
    assert out.exit_code == 2
    assert "doesn't exist" in out.output and "Traceback" not in out.output


@pytest.fixture(scope="session")
def chromium() -> str:
    path = shutil.which("chromium")
    assert path, "chromium is installed by scripts/bootstrap.sh test (Debian package 'chromium')"
    return path


def _chromium(binary: str, tmp: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [binary, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         f"--user-data-dir={tmp / 'chromium-profile'}", *args],
        capture_output=True, text=True, timeout=120,
    )


@pytest.mark.slow
def test_the_page_renders_in_a_real_browser(run, on_disk, journal, tmp_path, chromium):
    page_path = tmp_path / "report.html"
    assert run("report", "--html", str(page_path)).exit_code == 0

    dom = _chromium(chromium, tmp_path, "--dump-dom", page_path.as_uri())
    assert dom.returncode == 0, dom.stderr[-2000:]
    html = dom.stdout
    # The title was not changed: neither the <script> nor the onerror in the transcript ran.
    assert "<title>Your journal, looking back</title>" in html
    assert "pwned</title>" not in html
    assert html.count("<svg") == 4
    assert html.count("<polyline") == 10 * 2  # ten series, each broken once by the month without entries
    assert "Sam hugged me at the station." in html
    assert "&lt;script&gt;document.title=\"pwned\"&lt;/script&gt;" in html  # shown as text

    shot = tmp_path / "shot.png"
    done = _chromium(chromium, tmp_path, f"--screenshot={shot}", "--window-size=1200,2000",
                     "--hide-scrollbars", page_path.as_uri())
    assert done.returncode == 0 and shot.exists(), done.stderr[-2000:]
    import matplotlib.image

    pixels = matplotlib.image.imread(str(shot))
    assert pixels.shape[:2] == (2000, 1200)
    background = pixels[5, 5, :3]
    drawn = (abs(pixels[:, :, :3] - background).sum(axis=2) > 0.1).mean()
    assert drawn > 0.05  # charts and text, not a blank page
    # The chart colours are on screen (the blue of the first series).
    blue = (abs(pixels[:, :, 0] - 0x00 / 255) < 0.05) & (abs(pixels[:, :, 1] - 0x72 / 255) < 0.05) & (
        abs(pixels[:, :, 2] - 0xB2 / 255) < 0.05)
    assert blue.sum() > 500


# --- the PNG ---------------------------------------------------------------------------------


def test_plot_draws_the_monthly_counts(run, on_disk, tmp_path):
    picture = tmp_path / "progress.png"
    out = run("progress", "--months", "24", "--to", "2025-12-31", "--plot", str(picture))
    assert out.exit_code == 0, out.output
    assert picture.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    import matplotlib.image

    pixels = matplotlib.image.imread(str(picture))
    assert pixels.shape[:2] == (900, 1200)
    assert (abs(pixels[:, :, :3] - 1.0).sum(axis=2) > 0.1).mean() > 0.03


def test_plot_without_matplotlib_says_how_to_get_it(on_disk, tmp_path, clock_at):
    # Regression: this failed once the calendar moved past the journal's window (its default
    # 12 months held no entries). The journal's dates are fixed, so the clock is pinned to them.
    clock_at("2025-12-31T20:00")
    # A separate interpreter in which matplotlib can't be imported, as on an install without the extra.
    picture = tmp_path / "p.png"
    code = (
        "import sys; sys.modules['matplotlib'] = None\n"
        "from click.testing import CliRunner; from voicejournal.cli import cli\n"
        f"r = CliRunner().invoke(cli, ['--journal', {str(on_disk)!r}, 'progress', '--plot', {str(picture)!r}])\n"
        "print(r.exit_code); print(r.output)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    code_line, _, output = done.stdout.partition("\n")
    assert code_line == "2", done.stdout + done.stderr
    assert "pip install 'voicejournal[plot]'" in output and "Traceback" not in output
    assert not picture.exists()


def test_report_window_options_pick_the_entries(run, on_disk, journal, tmp_path):
    page_path = tmp_path / "r.html"
    assert run("report", "--html", str(page_path), "--from", "2025-10-01", "--to", "2025-12-31").exit_code == 0
    page = page_path.read_text(encoding="utf-8")
    wanted = sum(journal.count("entries", k) for k in ("2025-10", "2025-11", "2025-12"))
    assert page.count('<div class="entry">') == wanted
    assert f"{wanted} entries from " in page
    assert run("report", "--html", str(page_path), "--months", "2", "--from", "2025-01-01").exit_code == 2
