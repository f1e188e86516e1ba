"""Reflections from any OpenAI-compatible chat-completions endpoint (OpenAI, Ollama, llama.cpp
server, LM Studio, vLLM), via the `openai` package, streamed token by token.

Only text is sent: the entry, the practice, the themes noticed and short snippets of up to two
related earlier entries, never audio. A non-local endpoint is used only after the person has
seen what will be sent and agreed (once). Every failure (time-out, no connection, 401, 429,
5xx, malformed or empty answers) becomes a BackendError, and the base class falls back to the
offline reflection with a one-line notice.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator

from voicejournal.consent import ensure_consent, is_local_endpoint
from voicejournal.prompts import read_lines, read_prompt
from voicejournal.reflection import BackendError, ReflectionRequest, Reflector
from voicejournal.reflection.memory import how_long_ago
from voicejournal.reflection.text import normalise

log = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://api.openai.com/v1"
PURPOSE = "reflections"
# A local server needs no key, but the client insists on one.
PLACEHOLDER_KEY = "not-needed-for-a-local-server"
SNIPPET_WORDS = 40
MAX_TOKENS = 300

_THEME_WORDS = {
    "people_leave": "an old story that people leave",
    "unlovable": "an old fear of not being lovable if truly known",
    "self_reliance": "an old belief of having to rely only on oneself",
    "too_much": "an old worry about being too much or a burden",
    "anxious_checking": "anxious checking or seeking reassurance",
    "withdrawing": "pulling away when someone gets close",
    "expecting_worst": "expecting the worst from something unclear",
    "connection": "a moment of connection",
    "corrective": "something went better than they expected",
    "curiosity": "meeting an old feeling with curiosity",
    "set": "they chose a small step",
    "followed_up": "they came back to a small step they had chosen",
}


class OpenAIReflector(Reflector):
    """Streams a reflection from an OpenAI-compatible endpoint; the base class guards it."""

    name = "openai"

    def __init__(self, config=None, ask: Callable[[str], bool] | None = None):
        super().__init__(config)
        self.ask = ask
        self.base_url = (self.config.base_url or DEFAULT_BASE_URL).rstrip("/")
        self._client = None

    @property
    def model(self) -> str | None:
        return self.config.llm_model

    def _setup(self) -> None:
        self._client_for_use()

    def _client_for_use(self):
        if self._client is not None:
            return self._client
        what = " ".join(read_lines("openai/consent.txt"))
        try:
            ensure_consent(self.base_url, PURPOSE, what, self.ask)
        except Exception as exc:  # ConsentRequired: not agreed, so the offline reflection is used
            raise BackendError(str(exc).rstrip(".")) from None
        key = self.config.api_key
        if not key:
            if not is_local_endpoint(self.base_url):
                raise BackendError(f"no OPENAI_API_KEY is set for {self.base_url}")
            key = PLACEHOLDER_KEY
        import openai  # heavy (httpx, pydantic): only when a model is actually used

        self._client = openai.OpenAI(
            api_key=key, base_url=self.base_url, timeout=float(self.config.timeout), max_retries=0
        )
        return self._client

    def messages(self, request: ReflectionRequest) -> list[dict[str, str]]:
        """The chat messages sent: the system prompt, then the entry delimited as data."""
        themes = "; ".join(
            dict.fromkeys(_THEME_WORDS.get(t.name, t.name) + (f' ("{t.triggers[0]}")' if t.triggers else "")
                          for t in request.themes)
        ) or "nothing in particular"
        history_lines = []
        for rel in request.related:
            words = normalise(rel.entry.transcript).split()
            snippet = " ".join(words[:SNIPPET_WORDS]) + ("…" if len(words) > SNIPPET_WORDS else "")
            history_lines.append(f"- {how_long_ago(rel.entry.created)}: {_defuse(snippet)}")
        user = read_prompt("openai/user.txt").format(
            practice_title=request.practice.title,
            guidance=request.practice.guidance,
            themes=themes,
            history="\n".join(history_lines) or "- none",
            entry=_defuse(request.text),
        )
        return [
            {"role": "system", "content": read_prompt("openai/system.txt").strip()},
            {"role": "user", "content": user.strip()},
        ]

    def _generate(self, request: ReflectionRequest) -> Iterator[str]:
        client = self._client_for_use()
        import openai

        try:
            stream = client.chat.completions.create(
                model=self.config.llm_model,
                messages=self.messages(request),
                stream=True,
                temperature=0.7,
                max_tokens=MAX_TOKENS,
            )
            got_any = False
            with stream:
                for chunk in stream:
                    choices = getattr(chunk, "choices", None)
                    if not choices:
                        continue
                    delta = getattr(choices[0], "delta", None)
                    piece = getattr(delta, "content", None) if delta is not None else None
                    if piece:
                        got_any = True
                        yield piece
            if not got_any:
                raise BackendError("the model sent an empty answer")
        except openai.AuthenticationError:
            raise BackendError(f"{self.base_url} refused the API key (401)") from None
        except openai.RateLimitError:
            raise BackendError(f"{self.base_url} is busy or over its limit (429)") from None
        except openai.APITimeoutError:
            raise BackendError(f"no answer from {self.base_url} within {self.config.timeout:g} seconds") from None
        except openai.APIConnectionError:
            raise BackendError(f"couldn't connect to {self.base_url}") from None
        except openai.APIStatusError as exc:
            raise BackendError(f"{self.base_url} answered with an error ({exc.status_code})") from None
        except openai.APIError as exc:
            raise BackendError(f"the answer from {self.base_url} could not be read ({type(exc).__name__})") from None
        except (ValueError, KeyError, AttributeError, TypeError) as exc:
            raise BackendError(f"the answer from {self.base_url} could not be read ({type(exc).__name__})") from None


def _defuse(text: str) -> str:
    """Keep the entry inside its delimiters: a transcript can't close the <entry> block."""
    return text.replace("<entry>", "(entry)").replace("</entry>", "(/entry)")
