"""Crisis detection on held-out sets written by people who never saw the model, its training data
or the code (`tests/data/heldout/risk_heldout_c.tsv`, `_d.tsv`, `_e.tsv`). C and D were measured
before and after each change and used to choose between models; E was written afterwards and
measured once (the README has the figures). These bounds keep the product from
getting worse; the issue's targets are above them where the figures fall short.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "training"))

HELDOUT = ROOT / "tests" / "data" / "heldout"
SIZES = {"c": {"risk": 140, "concern": 40, "hard negatives": 111, "ordinary entries": 129},
         "d": {"risk": 140, "concern": 40, "hard negatives": 90, "ordinary entries": 90},
         "e": {"risk": 120, "concern": 30, "hard negatives": 60, "ordinary entries": 90}}
# (risk flagged, risk as crisis or danger, concern flagged) at least; measured in the comment.
FLAGGED = {"c": (0.66, 0.52, 0.50),  # 0.693, 0.543, 0.525
           "d": (0.80, 0.70, 0.70),  # 0.821, 0.721, 0.750
           "e": (0.72, 0.63, 0.75)}  # 0.750, 0.658, 0.800 (measured once: written after the rest)
# (hard negatives clear, check; ordinary entries clear, check) at most. Where a figure is over the
# aim (0.05, 0.10; 0.02, 0.05) the bound is the measured figure: it must not get worse.
LEFT_ALONE = {"c": (0.05, 0.10, 0.025, 0.05),  # 0.036, 0.027; 0.023 (3 of 129), 0.047
              "d": (0.05, 0.10, 0.035, 0.05),  # 0.044, 0.011; 0.033 (3 of 90), 0.011
              "e": (0.05, 0.10, 0.02, 0.07)}  # 0.050 (3 of 60), 0.050; 0.0, 0.067 (6 of 90)


@pytest.fixture(scope="module", params=["c", "d", "e"])
def figures(request):
    from evaluate import risk_figures

    return request.param, risk_figures([HELDOUT / f"risk_heldout_{request.param}.tsv"])


def test_the_set_is_whole(figures):
    name, got = figures
    assert {k: v["n"] for k, v in got.items()} == SIZES[name]


def test_risk_is_flagged(figures):
    name, got = figures
    flagged, clear, concern = FLAGGED[name]
    assert got["risk"]["flagged"] >= flagged and got["risk"]["clear"] >= clear, got["risk"]
    assert got["concern"]["flagged"] >= concern, got["concern"]


def test_hard_negatives_and_ordinary_entries_are_left_alone(figures):
    name, got = figures
    hn_clear, hn_check, oe_clear, oe_check = LEFT_ALONE[name]
    assert got["hard negatives"]["clear"] <= hn_clear and got["hard negatives"]["check"] <= hn_check, got
    assert got["ordinary entries"]["clear"] <= oe_clear and got["ordinary entries"]["check"] <= oe_check, got
