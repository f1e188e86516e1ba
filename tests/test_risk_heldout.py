"""Crisis detection on a held-out set: `tests/data/heldout/risk_heldout_c.tsv`, written by someone
who never saw the model, its training data or the code, and measured on the model before and after
its last retraining, with nothing tuned on it (the README has the figures). These bounds keep the product from getting worse.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "training"))

HELDOUT = ROOT / "tests" / "data" / "heldout" / "risk_heldout_c.tsv"


@pytest.fixture(scope="module")
def figures():
    from evaluate import risk_figures

    return risk_figures([HELDOUT])


def test_the_set_is_whole(figures):
    assert {k: v["n"] for k, v in figures.items()} == {
        "risk": 140, "concern": 40, "hard negatives": 111, "ordinary entries": 129}


def test_risk_is_flagged(figures):
    # measured: flagged 0.521, crisis or danger 0.421; concern flagged 0.625
    assert figures["risk"]["flagged"] >= 0.50 and figures["risk"]["clear"] >= 0.40
    assert figures["concern"]["flagged"] >= 0.60


def test_hard_negatives_and_ordinary_entries_are_left_alone(figures):
    # measured: hard negatives 0.036 clear, 0.027 check; ordinary entries 0.016 clear, 0.047 check
    assert figures["hard negatives"]["clear"] <= 0.05 and figures["hard negatives"]["check"] <= 0.10
    assert figures["ordinary entries"]["clear"] <= 0.02 and figures["ordinary entries"]["check"] <= 0.05
