"""Measure the product's readers on a labelled set: `python training/evaluate.py risk FILE...`.

It runs what the product runs (`check_risk`, `detect_themes`, `entry_tone`, `check_reflection`),
rules and thresholds included, so the figures are the ones a person meets. Use it on held-out
sets (tests/data/heldout/) once, before tuning on them; after that they are development data.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "training"))


def risk_figures(paths: list[Path], show: bool = False) -> dict:
    """Per group of the set: the share flagged clear (crisis/danger), check, or either."""
    from train import rates, read_tsv

    from voicejournal.reflection.risk import check_risk

    buckets: dict[str, Counter] = defaultdict(Counter)
    for path in paths:
        for row in read_tsv(path):
            label, text = row["label"].strip(), row["text"].strip()
            kind = risk_kind(label, text, row.get("group", ""))
            level = check_risk(text).level
            outcome = "none" if level is None else ("check" if level == "check" else "clear")
            buckets[kind]["n"] += 1
            buckets[kind][outcome] += 1
            wrong = (label == "none") != (outcome == "none")
            if show and wrong:
                print(f"  [{kind}] {outcome}: {text[:160]}")
    return rates(buckets)


def risk_kind(label: str, text: str, group: str = "") -> str:
    if label in ("crisis", "danger"):
        return "risk"
    if label == "concern":
        return "concern"
    return "ordinary entries" if len(text.split()) >= 40 else "hard negatives"


def theme_figures(paths: list[Path], show: bool = False) -> dict:
    """Per theme precision and recall, micro figures, and tone accuracy."""
    from train import THEMES

    from voicejournal.reflection.themes import detect_themes
    from voicejournal.reflection.tone import entry_tone

    name_of = {("narrative", n): n for n in ("people_leave", "unlovable", "self_reliance", "too_much")}
    name_of.update({("pattern", n): n for n in ("anxious_checking", "withdrawing", "expecting_worst")})
    name_of.update({("connection", "connection"): "connection", ("corrective", "corrective"): "corrective",
                    ("curiosity", "curiosity"): "curiosity", ("small_step", "set"): "small_step_set",
                    ("small_step", "followed_up"): "small_step_followed_up",
                    ("self_talk", "self_critical"): "self_critical"})
    tp, fp, fn = Counter(), Counter(), Counter()
    tones = Counter()
    n = 0
    for path in paths:
        for line in path.read_text(encoding="utf-8").splitlines():
            if not line.strip():
                continue
            row = json.loads(line)
            n += 1
            truth = set(row.get("themes", {}))
            found = {name_of.get((t.kind, t.name)) for t in detect_themes(row["text"])} - {None}
            for t in found & truth:
                tp[t] += 1
            for t in found - truth:
                fp[t] += 1
            for t in truth - found:
                fn[t] += 1
            if show and found != truth:
                print(f"  missed {sorted(truth - found)} extra {sorted(found - truth)}: {row['text'][:140]}")
            tone = entry_tone(row["text"])
            if row.get("tone"):
                tones["n"] += 1
                tones["right"] += tone == row["tone"]
                tones["light called heavy"] += row["tone"] == "light" and tone == "heavy"
                tones["heavy called light"] += row["tone"] == "heavy" and tone == "light"

    def ratio(a: int, b: int) -> float:
        return round(a / b, 3) if b else 1.0

    per = {t: {"precision": ratio(tp[t], tp[t] + fp[t]), "recall": ratio(tp[t], tp[t] + fn[t]),
               "n": tp[t] + fn[t]} for t in THEMES}
    micro = {"precision": ratio(sum(tp.values()), sum(tp.values()) + sum(fp.values())),
             "recall": ratio(sum(tp.values()), sum(tp.values()) + sum(fn.values()))}
    return {"entries": n, "micro": micro, "per_theme": per,
            "tone": {"accuracy": ratio(tones["right"], tones["n"]), "n": tones["n"],
                     "light called heavy": tones["light called heavy"],
                     "heavy called light": tones["heavy called light"]}}


def guard_figures(paths: list[Path], show: bool = False) -> dict:
    """Good replies passed and flawed replies stopped by the whole guard."""
    from voicejournal.reflection.guard import check_reflection

    c = Counter()
    for path in paths:
        for line in path.read_text(encoding="utf-8").splitlines():
            if not line.strip():
                continue
            row = json.loads(line)
            result = check_reflection(row["reply"], row["entry"])
            good = row["verdict"] == "good"
            c["good" if good else "flawed"] += 1
            c["passed" if good and result.ok else "stopped" if not good and not result.ok else "wrong"] += 1
            if show and good != result.ok:
                print(f"  [{row['verdict']} {row.get('flaws')}] {result.problems}: {row['reply'][:150]}")
    return {"good": c["good"], "flawed": c["flawed"],
            "good_passed": round(c["passed"] / max(1, c["good"]), 3),
            "flawed_stopped": round(c["stopped"] / max(1, c["flawed"]), 3)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("task", choices=["risk", "themes", "guard"])
    parser.add_argument("files", nargs="+", type=Path)
    parser.add_argument("--show", action="store_true", help="print each text the product got wrong")
    args = parser.parse_args()
    figures = {"risk": risk_figures, "themes": theme_figures, "guard": guard_figures}[args.task](args.files, args.show)
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
