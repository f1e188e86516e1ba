"""The command line: parse options, call the library, print, map errors to exit codes.

Commands are grouped by area in the modules below; each module's `register(cli)` adds
its commands. Modules import heavy libraries (Whisper, audio, TTS, openai) inside the
commands that need them, so `--help`, `list` and `show` start fast.
"""

from __future__ import annotations

import logging
import sys

import click

from voicejournal import __version__
from voicejournal.cli import common
from voicejournal.errors import VoiceJournalError

log = logging.getLogger("voicejournal")


class VoiceJournalGroup(click.Group):
    """The one exit point: a VoiceJournalError becomes its message and exit code."""

    def invoke(self, ctx: click.Context):  # type: ignore[override]
        try:
            return super().invoke(ctx)
        except VoiceJournalError as exc:
            common.error(str(exc))
            ctx.exit(exc.exit_code)
        except KeyboardInterrupt:
            common.error("Stopped. Everything already saved is kept.")
            ctx.exit(130)


@click.group(cls=VoiceJournalGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="voicejournal")
@common.journal_option
@click.option("--debug", is_flag=True, help="Log what happens, to stderr (never secrets).")
@click.pass_context
def cli(ctx: click.Context, debug: bool) -> None:
    """A private, voice-first journal that listens and reflects back kindly.

    Speak an entry with `voicejournal checkin`; read your entries with `list`, `show`
    and `search`. Everything stays on this computer unless you set up a remote model.
    """
    ctx.ensure_object(dict)
    if debug:
        common.enable_debug_logging()


def _register() -> None:
    from voicejournal.cli import capture, privacy, progress, reflect, review, session

    for module in (review, capture, reflect, session, progress, privacy):
        module.register(cli)


_register()


def main() -> None:
    """Console-script entry point."""
    cli(prog_name="voicejournal")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
