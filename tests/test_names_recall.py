"""Names with the real tiny.en model on real and espeak-ng recordings.

The list must never make Whisper write a name that wasn't said, must not change what it
writes where no name is said, and must help where one is. Figures: bench/bench_names.py.
"""

from __future__ import annotations

import numpy as np
import pytest
from audio_testkit import SAMPLES, reference, wer
from names_testkit import DECOYS, NAMES, names_heard, names_written, speak_espeak, utterances

from voicejournal.audio import SAMPLE_RATE, load_audio
from voicejournal.config import Config
from voicejournal.models import Entry
from voicejournal.names import NameHints, learn_from_correction, whisper_names
from voicejournal.store import JournalStore
from voicejournal.transcription import get_transcriber

pytestmark = pytest.mark.slow

LONG_LIST = NameHints(tuple(NAMES) + DECOYS + ("Stella", "Sam"))  # 26 names


@pytest.fixture(scope="module")
def whisper():
    return get_transcriber(Config())


def test_no_name_is_written_where_none_was_said_and_nothing_else_changes(whisper):
    recordings = [(u.reference, speak_espeak(u.spoken)) for u in utterances(with_names=False)]
    recordings += [(reference(n), load_audio(SAMPLES / n)) for n in ("jfk_inaugural_1961.wav", "checkin_morning.wav")]
    recordings.append(("", np.zeros(SAMPLE_RATE * 5, dtype=np.float32)))  # silence
    for _ref, audio in recordings:
        plain = whisper.transcribe(audio).text
        listed = whisper.transcribe(audio, names=LONG_LIST).text
        assert names_written(listed, LONG_LIST.names) == [], listed
        assert listed == plain  # no harm: word for word what Whisper writes without the list


def test_a_listed_name_that_was_said_stays_and_is_the_only_one(whisper):
    # VCTK p225 says "Please call Stella": the list holds Stella among 25 others.
    audio = load_audio(SAMPLES / "vctk_p225_001-002.wav")
    listed = whisper.transcribe(audio, names=LONG_LIST).text
    assert names_written(listed, LONG_LIST.names) == ["Stella"]
    assert wer(reference("vctk_p225_001-002.wav"), listed) <= 0.10


def test_names_said_are_never_turned_into_other_listed_names(whisper):
    said = heard_plain = heard_listed = 0
    for u in utterances():
        audio = speak_espeak(u.spoken)
        plain = whisper.transcribe(audio).text
        listed = whisper.transcribe(audio, names=LONG_LIST).text
        wrong = [n for n in names_written(listed, LONG_LIST.names) if n not in u.names]
        assert wrong == [], (u.reference, listed)
        said += len(u.names)
        heard_plain += names_heard(u, plain)
        heard_listed += names_heard(u, listed)
    assert heard_listed >= heard_plain


def test_a_corrected_name_is_spelled_right_next_time(whisper, journal_path):
    """The person corrects Whisper's spelling once with `edit`; next time, in another sentence,
    Whisper's spelling of that name is turned into theirs."""
    store = JournalStore(journal_path)
    said = NAMES["Saoirse"]
    first = speak_espeak(f"I had coffee with {said} this morning and she asked how I was.")
    before = whisper.transcribe(first, names=whisper_names(store)).text
    store.add(Entry(transcript=before, source="mic"))
    misheard = [w for w in before.replace(",", " ").split() if w[:1].isupper() and w not in ("I",)]
    assert misheard and "Saoirse" not in before, before
    learn_from_correction(store, before, before.replace(misheard[0], "Saoirse"))
    hints = whisper_names(store)
    assert hints.names == ("Saoirse",) and hints.heard == ((misheard[0], "Saoirse"),)
    again = speak_espeak(f"Later {said} phoned to ask about the weekend.")
    plain = whisper.transcribe(again).text
    listed = whisper.transcribe(again, names=hints).text
    if misheard[0] in plain:  # Whisper heard her the same way: now it is written as she is called
        assert "Saoirse" in listed, (plain, listed)
    assert names_written(listed, ["Saoirse"]) in ([], ["Saoirse"])
