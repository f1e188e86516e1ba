"""Crisis detection on a held-out set: `tests/data/heldout/risk_heldout_b.tsv`, written by someone
who never saw the model, its training data or the code, and measured once before anything was
tuned on it (the README has the figures). These bounds keep the product from getting worse.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "training"))

HELDOUT = ROOT / "tests" / "data" / "heldout" / "risk_heldout_b.tsv"


@pytest.fixture(scope="module")
def figures():
    from evaluate import risk_figures

    return risk_figures([HELDOUT])


def test_the_set_is_whole(figures):
    assert {k: v["n"] for k, v in figures.items()} == {
        "risk": 138, "concern": 35, "hard negatives": 100, "ordinary entries": 130}


def test_risk_is_flagged(figures):
    # measured: flagged 0.681, crisis or danger 0.399; concern flagged 0.743
    assert figures["risk"]["flagged"] >= 0.66 and figures["risk"]["clear"] >= 0.38
    assert figures["concern"]["flagged"] >= 0.71


def test_hard_negatives_and_ordinary_entries_are_left_alone(figures):
    # measured: hard negatives 0.03 clear, 0.12 check; ordinary entries 0.0 clear, 0.046 check
    assert figures["hard negatives"]["clear"] <= 0.05 and figures["hard negatives"]["check"] <= 0.15
    assert figures["ordinary entries"]["clear"] <= 0.02 and figures["ordinary entries"]["check"] <= 0.07
