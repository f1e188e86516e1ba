"""Speaking starts while a streaming model is still writing.

A real HTTP server on loopback speaks the OpenAI chat-completions streaming protocol, sending
the reply a sentence at a time with a pause in the middle; the real `openai` client, the real
OpenAIReflector and its guards, the real pyttsx3 engine and the check-in loop run unchanged.
Only the player is a test double (there is no sound card): it notes when audio reaches it.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from voicejournal.config import Config
from voicejournal.session import CheckinSession, Heard, Listener, SessionView
from voicejournal.speech import Player, Pyttsx3Speaker, Sound
from voicejournal.store import JournalStore

ENTRY = "Noor said she would ring after her shift and it is nearly midnight. I keep rereading our messages."
FIRST = ["You've been waiting for Noor to ring since her shift ended, rereading your messages. ",
         "That kind of waiting can feel endless. "]
LATER = ["I wonder if an old alarm is filling the quiet with the hardest explanation it knows. ",
         "What else might be true about a late night after a long shift?"]
PAUSE_S = 1.5


class SlowStreamingModel(BaseHTTPRequestHandler):
    """Two sentences, a pause (the model 'thinking'), then the rest."""

    protocol_version = "HTTP/1.0"
    sent_last_at: list[float] = []

    def log_message(self, *args) -> None:  # keep test output clean
        pass

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length) or b"{}")
        assert body.get("stream") is True
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.end_headers()
        for i, piece in enumerate(FIRST + LATER):
            if i == len(FIRST):
                time.sleep(PAUSE_S)
            for word in piece.split(" "):
                chunk = {"id": "c1", "object": "chat.completion.chunk", "created": 0, "model": "slow",
                         "choices": [{"index": 0, "delta": {"content": word + " "}, "finish_reason": None}]}
                self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
                self.wfile.flush()
        SlowStreamingModel.sent_last_at.append(time.monotonic())
        self.wfile.write(b"data: [DONE]\n\n")
        self.wfile.flush()


class TimingPlayer(Player):
    def __init__(self) -> None:
        super().__init__()
        self.started: list[float] = []

    def play(self, sound: Sound) -> None:
        self.started.append(time.monotonic())


class OneTypedEntry(Listener):
    source = "text"
    one_pass = True

    def entry(self) -> Heard:
        return Heard(ended_by="text", text=ENTRY, has_speech=True)

    def answer(self) -> Heard:
        return Heard(ended_by="eof")


@pytest.fixture
def model_server():
    server = ThreadingHTTPServer(("127.0.0.1", 0), SlowStreamingModel)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    SlowStreamingModel.sent_last_at.clear()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    server.shutdown()
    server.server_close()


def test_first_sentence_is_spoken_before_the_model_has_finished(model_server, tmp_path):
    from voicejournal.reflection import get_reflector

    config = Config(backend="openai", base_url=model_server, llm_model="slow", timeout=20.0)
    store = JournalStore(tmp_path / "journal.json")
    player = TimingPlayer()
    speaker = Pyttsx3Speaker(config, player=player)
    heard_sentences: list[tuple[float, str]] = []

    class View(SessionView):
        def reflection_sentence(self, sentence: str) -> None:
            heard_sentences.append((time.monotonic(), sentence))

    reflector = get_reflector(config)
    session = CheckinSession(store, config, OneTypedEntry(), speaker, reflector=reflector, view=View(), seed=3)
    result = session.run()

    (entry,) = store.all()
    assert entry.reflection is not None and entry.reflection.backend == "openai", result.notices
    assert "Noor" in entry.reflection.text and "late night" in entry.reflection.text
    finished = SlowStreamingModel.sent_last_at[0]
    first_reflection_sound = next(t for t, s in zip(speaker.sound_times, speaker.spoken, strict=False)
                                  if s.startswith("You've been waiting"))
    # The first sentence reached the speaker while the model was still pausing mid-reply.
    assert first_reflection_sound < finished - PAUSE_S / 2
    assert heard_sentences[0][1].startswith("You've been waiting")
    assert speaker.spoken.index(heard_sentences[-1][1]) > speaker.spoken.index(heard_sentences[0][1])
