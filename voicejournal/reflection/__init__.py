"""The compassionate reflection: what the person hears after speaking.

`get_reflector(config)` chooses a backend by name. Every backend goes through the same public
`Reflector.reflect()` / `Reflector.stream()` (a template method): input checks, crisis safety
first, themes, memory of related entries, then the backend's generation, the guard, the time
limit, and one fallback to the offline reflector. Backends implement only `_generate`.
"""

from __future__ import annotations

import hashlib
import logging
import re
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Generator, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from voicejournal import dates
from voicejournal.errors import UserInputError
from voicejournal.models import Entry, Reflection, Safety, Theme
from voicejournal.reflection import text as tx
from voicejournal.reflection.guard import MAX_WORDS, MIN_WORDS, check_reflection, check_sentence
from voicejournal.reflection.memory import Related, related_entries
from voicejournal.reflection.practices import Practice, get_practice, list_practices
from voicejournal.reflection.resources import check_question, check_thanks, gentle_resources, safety_message
from voicejournal.reflection.risk import LEVEL_CHECK, LEVEL_CRISIS, RiskCheck, check_risk
from voicejournal.reflection.themes import Details, detect_themes, extract_details

if TYPE_CHECKING:
    from voicejournal.config import Config

__all__ = [
    "BackendError", "Practice", "ReflectionRequest", "ReflectionResult", "ReflectionStream", "Reflector",
    "followup_prompt", "get_practice", "get_reflector", "list_practices", "pending_step",
]

log = logging.getLogger(__name__)

# Longest entry text the reflection looks at (a very long dictation is still saved in full).
MAX_INPUT_CHARS = 12000
# How many past entries memory searches (newest first): enough for years of daily use.
MAX_HISTORY = 1500
# A small step older than this is not asked about any more.
FOLLOWUP_DAYS = 21


class BackendError(Exception):
    """A backend could not produce a reply; `reflect()` falls back to the offline reflector."""


@dataclass
class ReflectionRequest:
    """Everything a backend may use to write a reflection for one entry."""

    text: str
    practice: Practice
    themes: list[Theme]
    details: Details
    related: list[Related]
    seed: int
    avoid: list[str] = field(default_factory=list)  # words never to say back (what raised a risk check)


@dataclass
class ReflectionResult:
    """What came of reflecting on an entry.

    `text` is what to show and speak: the reflection, or the safety message with its helplines
    when risk was clear (then `reflection` is None and `safety` is set). When it was unclear,
    `safety.level` is "check" and the reflection comes after the answer's words or the gentle
    helplines.
    """

    reflection: Reflection | None
    themes: list[Theme]
    safety: Safety | None
    text: str
    notices: list[str] = field(default_factory=list)
    resources: list[str] = field(default_factory=list)
    related: list[str] = field(default_factory=list)  # ids of the earlier entries used

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class ReflectionStream:
    """Iterate to get the reply sentence by sentence, each already checked; then read `.result`."""

    def __init__(self, steps: Generator[str, None, ReflectionResult]):
        self._steps = steps
        self.result: ReflectionResult | None = None

    def __iter__(self) -> Iterator[str]:
        self.result = yield from self._steps


class Reflector(ABC):
    """Base for reflection backends. Subclasses implement `_generate` only."""

    name = "base"
    checks_topic = True  # whether the guard also checks the reply is about this entry
    # whether the guard reads the reply by meaning (the trained head); the offline reflector's
    # own wording is known, so the phrase rules judge it, in well under a millisecond
    guard_by_meaning = True
    #: Whether its reply depends only on the entry, the history and the practice, and takes
    #: milliseconds: then a check-in may compose the first sentence ahead, in the closing pause.
    composes_ahead = False

    def __init__(self, config: Config | None = None):
        from voicejournal.config import Config

        self.config = config or Config()
        self.last_result: ReflectionResult | None = None  # for callers that only see the saved entry

    @property
    def model(self) -> str | None:
        return None

    # ---- the public template ---------------------------------------------------------

    def reflect(self, text: str, practice: str = "checkin", history: Sequence[Entry] = (),
                check_answer: str | None = None) -> ReflectionResult:
        """Reflect on `text` (a journal entry). Raises UserInputError only for bad input.

        `check_answer` is the person's answer when they were asked whether they have thoughts of
        ending their life or hurting themselves ("yes", "no", "unclear"); None when nobody could
        be asked (a typed or imported entry).
        """
        stream = self._stream(text, practice, history, progressive=False, check_answer=check_answer)
        for _ in stream:
            pass
        assert stream.result is not None
        return stream.result

    def _remember(self, result: ReflectionResult) -> ReflectionResult:
        self.last_result = result
        return result

    def stream(self, text: str, practice: str = "checkin", history: Sequence[Entry] = (),
               check_answer: str | None = None, risk: RiskCheck | None = None) -> ReflectionStream:
        """Like `reflect`, but yields each sentence as soon as it is ready and has passed the guard.

        `risk` is the outcome of `check_risk(text)` when the caller already has it (the check-in
        reads it first, to know whether to ask).
        """
        return self._stream(text, practice, history, progressive=True, check_answer=check_answer, risk=risk)

    def _setup(self) -> None:  # noqa: B027  (optional hook, most backends need nothing)
        """Get ready to generate (load a client, ask consent); raise BackendError if it can't."""

    @abstractmethod
    def _generate(self, request: ReflectionRequest) -> Iterator[str]:
        """Yield the reply in pieces (tokens or whole text). Raise BackendError on failure."""

    # ---- shared machinery ----------------------------------------------------------------

    def _stream(self, text: str, practice: str, history: Sequence[Entry], progressive: bool,
                check_answer: str | None = None, risk: RiskCheck | None = None) -> ReflectionStream:
        if not isinstance(text, str) or not text.strip():
            raise UserInputError("There's nothing to reflect on yet: the entry is empty.")
        chosen = get_practice(practice)  # unknown practice: a clear error before anything else
        return ReflectionStream(self._run(text.strip(), chosen, history, progressive, check_answer, risk))

    def _run(self, text: str, practice: Practice, history: Sequence[Entry], progressive: bool,
             check_answer: str | None = None, risk: RiskCheck | None = None) -> Generator[str, None, ReflectionResult]:
        whole = text.replace("\x00", "")
        text = whole[:MAX_INPUT_CHARS]
        past = sorted((e for e in history if e.transcript), key=lambda e: e.created_at)[-MAX_HISTORY:]
        step = pending_step(past)
        themes = detect_themes(text, pending_step=step)

        # Safety first: risk gets care and real help, never a journaling exercise.
        risk = risk or check_risk(whole)  # all of it: what matters most may come at the very end
        notices = [risk.notice] if risk.notice else []
        safety = risk.safety
        lead: list[str] = []  # said before the reflection when the risk was unclear
        resources: list[str] = []
        if safety is not None and safety.level == LEVEL_CHECK:
            safety = replace(safety, question=check_question(), answer=check_answer)
            if check_answer == "yes":
                # They said yes: the safety message, exactly as for clear risk.
                safety = replace(safety, level=LEVEL_CRISIS, reason=f"said yes when asked ({safety.reason})")
            elif check_answer == "no":
                lead = [check_thanks()]
            else:  # no clear answer, or nobody there to ask: the helplines, gently, then the reflection
                gentle, resources = gentle_resources(self.config.region)
                lead = [part.strip() for part in gentle.split("\n") if part.strip()]
        if safety is not None and safety.level != LEVEL_CHECK:
            message, resources = safety_message(safety, self.config.region)
            for part in message.split("\n"):
                if part.strip():
                    yield part.strip()
            return self._remember(ReflectionResult(reflection=None, themes=themes, safety=safety,
                                                   text=message, resources=resources, notices=notices))
        yield from lead

        request = ReflectionRequest(
            text=text,
            practice=practice,
            themes=themes,
            details=extract_details(text),
            related=related_entries(text, themes, past),
            seed=int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:8], "big"),
            avoid=[safety.sentence] if safety is not None and safety.sentence else [],
        )
        accepted: list[str] = []
        failure = yield from self._generate_guarded(request, progressive, accepted)
        backend, model = self.name, self.model
        if failure is None:
            reply = " ".join(accepted)
        else:
            from voicejournal.reflection.offline import compose, sentences_of

            log.info("reflection by %s not used: %s", self.name, failure)
            notices.append(f"The {self.name} reflection couldn't be used ({failure}), so you're hearing the "
                           "offline one instead.")
            offline = compose(request)
            backend, model = "offline", None
            spoken_words = tx.word_count(" ".join(accepted))
            if progressive and accepted and spoken_words >= 25:
                # Part of the reply was already spoken: finish with the offline closing question
                # rather than starting over.
                last = list(sentences_of(offline))[-1]
                yield last
                reply = " ".join(accepted + [last])
                backend = f"{self.name}+offline"
            else:
                yield from sentences_of(offline)
                reply = offline
        return self._remember(ReflectionResult(
            reflection=Reflection(text=reply, backend=backend, model=model),
            themes=themes,
            safety=safety,
            text="\n".join(lead + [reply]) if lead else reply,
            notices=notices,
            resources=resources,
            related=[r.entry.id for r in request.related],
        ))

    def _generate_guarded(self, request: ReflectionRequest, progressive: bool,
                          accepted: list[str]) -> Generator[str, None, str | None]:
        """Run the backend under the time limit and the guard; return why it failed, or None."""
        try:
            self._setup()  # imports and consent: not counted against the model's time limit
        except BackendError as exc:
            return str(exc)
        deadline = time.monotonic() + max(1.0, float(self.config.timeout))
        buffer = ""
        held: list[str] = []  # while streaming, the first sentences wait until they prove on-topic
        pieces = self._generate(request)
        try:
            for chunk in pieces:
                if time.monotonic() > deadline:
                    return f"no full reply within {self.config.timeout:g} seconds"
                buffer += chunk or ""
                if not progressive:
                    continue
                sentences, buffer = _complete_sentences(buffer)
                for sentence in sentences:
                    check = check_sentence(sentence, request.text, by_meaning=self.guard_by_meaning)
                    if not check.ok:
                        return f"it failed the kindness check: {check.reason}"
                    if tx.word_count(" ".join(accepted + held + [sentence])) > MAX_WORDS:
                        buffer = ""
                        break  # long enough: stop here, at a whole sentence
                    held.append(sentence)
                    if len(held) + len(accepted) >= 2 or accepted:
                        if not accepted and _reads_off_topic(" ".join(held), request.text):
                            return "it was not about this entry"
                        for h in held:
                            accepted.append(h)
                            yield h
                        held = []
                else:
                    continue
                break
        except BackendError as exc:
            return str(exc)
        except Exception as exc:  # a backend bug must not lose the person's reflection
            log.exception("reflection backend %s failed", self.name)
            return f"unexpected {type(exc).__name__}"
        finally:
            close = getattr(pieces, "close", None)
            if close:
                close()

        if progressive:
            rest = " ".join(buffer.split())
            if rest:
                finished = re.search(r"[.?…][\"'”’)]*$", rest)
                so_far = tx.word_count(" ".join(accepted + held))
                if finished:
                    check = check_sentence(rest, request.text, by_meaning=self.guard_by_meaning)
                    if not check.ok:
                        return f"it failed the kindness check: {check.reason}"
                    if so_far + tx.word_count(rest) <= MAX_WORDS:
                        held.append(rest)
                elif so_far < MIN_WORDS:
                    held.append(rest)  # the whole-text check will call it truncated
                # else: an unfinished last fragment after a good reply is dropped.
            full = " ".join(accepted + held)
        else:
            full = _fit(buffer.strip())
        check = check_reflection(full, request.text if self.checks_topic else None, by_meaning=self.guard_by_meaning)
        if not check.ok:
            return "it " + _describe(check.problems)
        if progressive:
            for h in held:
                accepted.append(h)
                yield h
        else:
            accepted.append(full)
        return None


def _describe(problems: list[str]) -> str:
    if problems == ["empty"]:
        return "was empty"
    return "failed the kindness check: " + ", ".join(problems)


_SENTENCE = re.compile(r"(.+?[.?!…][\"'”’)]*)(?:\s+|$)", re.DOTALL)


def _complete_sentences(buffer: str) -> tuple[list[str], str]:
    """Split off the complete sentences at the start of `buffer`; return them and the rest."""
    out: list[str] = []
    pos = 0
    for m in _SENTENCE.finditer(buffer):
        if m.start() != pos:
            break
        end_ok = m.end() < len(buffer) or buffer.endswith((" ", "\n"))
        if not end_ok:
            break
        sentence = " ".join(m.group(1).split())
        # "Dr." or "e.g." would be cut wrongly, but a reflection has no business using them.
        out.append(sentence)
        pos = m.end()
    return out, buffer[pos:]


def _fit(text: str) -> str:
    """Keep whole sentences up to the spoken length (a model that rambles is cut, not rejected)."""
    if tx.word_count(text) <= MAX_WORDS:
        return text
    sentences, rest = _complete_sentences(text + " ")
    kept: list[str] = []
    for s in sentences:
        if tx.word_count(" ".join(kept + [s])) > MAX_WORDS:
            break
        kept.append(s)
    return " ".join(kept) if kept else text


def _reads_off_topic(text: str, transcript: str) -> bool:
    entry = set(tx.content_words(transcript))
    return len(entry) >= 4 and not (entry & set(tx.content_words(text)))


# ---------------------------------------------------------------- backends


def get_reflector(config: Config | None = None, offline: bool = False,
                  ask: Callable[[str], bool] | None = None) -> Reflector:
    """The configured reflection backend ("offline" or "openai"); `offline=True` forces local.

    `ask` is how a non-local endpoint asks for consent the first time (None: nobody to ask).
    """
    from voicejournal.config import Config
    from voicejournal.reflection.offline import OfflineReflector

    config = config or Config()
    backend = "offline" if offline else (config.backend or "offline").strip().lower()
    if backend == "offline":
        return OfflineReflector(config)
    if backend in ("openai", "llm", "openai-compatible"):
        from voicejournal.reflection.openai_backend import OpenAIReflector

        return OpenAIReflector(config, ask=ask)
    raise UserInputError(f"There is no reflection backend called '{config.backend}'. Use 'offline' or 'openai'.")


# ---------------------------------------------------------------- small steps


def _latest_step(entries: Iterable[Entry]) -> tuple[Entry, str] | None:
    ordered = sorted(entries, key=lambda e: e.created_at)
    latest: tuple[Entry, str] | None = None
    for e in ordered:
        names = {t.name for t in e.themes if t.kind == "small_step"}
        if "followed_up" in names:
            latest = None
        if "set" in names:
            step = next(t for t in e.themes if t.kind == "small_step" and t.name == "set")
            if step.triggers:
                latest = (e, step.triggers[0])
    return latest


def pending_step(entries: Iterable[Entry], now: datetime | None = None) -> str | None:
    """The latest small step not yet followed up (and not too old), in the person's words."""
    found = _latest_step(entries)
    if not found:
        return None
    entry, step = found
    now = now or dates.now()
    if now - entry.created > timedelta(days=FOLLOWUP_DAYS):
        return None
    return step


def followup_prompt(store_entries: Iterable[Entry], now: datetime | None = None) -> str | None:
    """A warm question for the next greeting about the latest small step not yet followed up."""
    from voicejournal.prompts import read_lines
    from voicejournal.reflection.offline import fill

    step = pending_step(list(store_entries), now)
    if not step:
        return None
    said = tx.lower_first(tx.to_second_person(step.strip(" .")))
    if not check_sentence(said, by_meaning=False).ok:
        return None
    import random

    options = [f for f in (fill(line, {"step": said}) for line in read_lines("reflection/followup.txt")) if f]
    return random.Random(step).choice(options) if options else None
