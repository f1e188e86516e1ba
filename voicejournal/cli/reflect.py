"""`reflect` (try a reflection on some text without saving) and `practices` (list them)."""

from __future__ import annotations

import sys

import click

from voicejournal.cli.common import (
    command,
    journal_path,
    json_option,
    load_config,
    note,
    open_store,
    print_json,
)
from voicejournal.errors import UserInputError, VoiceJournalError


def consent_asker():
    """How a non-local endpoint asks for consent: a yes/no question in a terminal, else nobody."""
    if not sys.stdin.isatty():
        return None
    return lambda question: click.confirm(question, default=False, err=True)


def show_result(result) -> None:
    """Print a reflection (or the safety message with its helplines) and any notices."""
    for notice in result.notices:
        note(notice)
    if result.safety is not None and result.reflection is not None:
        # unsure: the gentle words and helplines first, then the reflection
        click.secho(result.text[: len(result.text) - len(result.reflection.text)].strip(), fg="yellow")
        click.echo(result.reflection.text)
    elif result.safety is not None:
        click.secho(result.text, fg="yellow")
    else:
        click.echo(result.text)


def _history_if_any() -> list:
    """Earlier entries for memory, read only if a journal exists (`reflect` never creates one)."""
    from pathlib import Path

    from voicejournal.config import default_journal_path

    path = Path(journal_path() or default_journal_path()).expanduser()
    if path.is_dir():
        path = path / "journal.json"
    if not path.exists():
        return []
    try:
        return open_store().all()
    except VoiceJournalError:
        return []  # trying a reflection out must work even without a readable journal


def register(cli: click.Group) -> None:
    @command(cli, "reflect")
    @click.argument("text", required=False)
    @click.option("--practice", "-p", help="Which practice frames the reflection (see `voicejournal practices`).")
    @click.option("--offline", is_flag=True, help="Use the offline reflector, whatever is configured.")
    @click.option("--backend", type=click.Choice(["offline", "openai"]), help="Reflection backend.")
    @click.option("--base-url", help="An OpenAI-compatible endpoint, e.g. http://127.0.0.1:8080/v1.")
    @click.option("--llm-model", help="Model name to ask the endpoint for.")
    @click.option("--timeout", type=click.FloatRange(min=1), help="Seconds to wait for the model.")
    @json_option
    def reflect(text, practice, offline, backend, base_url, llm_model, timeout, as_json):
        """Reflect on TEXT (or '-' / piped stdin) without saving anything."""
        from voicejournal.reflection import get_reflector

        if text == "-" or (text is None and not sys.stdin.isatty()):
            text = sys.stdin.buffer.read().decode("utf-8", errors="replace")
        if text is None or not text.strip():
            raise UserInputError('Give some text to reflect on, e.g. voicejournal reflect "Today I..." (or pipe it in).')
        config = load_config(backend=backend, base_url=base_url, llm_model=llm_model, timeout=timeout)
        history = _history_if_any()
        reflector = get_reflector(config, offline=offline, ask=consent_asker())
        result = reflector.reflect(text, practice=practice or config.practice, history=history)
        if as_json:
            for notice in result.notices:
                note(notice)
            print_json(result.to_dict())
        else:
            show_result(result)

    @command(cli, "practices")
    @json_option
    def practices(as_json):
        """List the guided practices (use one with --practice NAME)."""
        from voicejournal.reflection.practices import DEFAULT_PRACTICE, list_practices

        found = list_practices()
        if as_json:
            print_json([{"name": p.name, "title": p.title, "description": p.description} for p in found])
            return
        width = max(len(p.name) for p in found)
        for p in found:
            mark = " (default)" if p.name == DEFAULT_PRACTICE else ""
            click.echo(f"{p.name:<{width}}  {p.title}{mark}: {p.description}")
