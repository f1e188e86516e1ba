"""Trained heads over the shared reading of an entry (`meaning.py`): small numpy classifiers.

Each head is two files in `voicejournal/reflection/heads/`: `<name>.npz` (plain weight arrays)
and `<name>.json` (its labels, thresholds, the fingerprint of the training data it came from,
the sha256 of the weights, and its measured scores). `training/train.py` writes both; the
runtime needs only numpy. A head that is missing or damaged is reported once and callers fall
back to their rules: a broken file must never stop an entry being saved.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np

log = logging.getLogger(__name__)

HEADS_DIR = Path(__file__).resolve().parent / "heads"
# Heads that are built by training/train.py but not installed by default (they measured worse
# than, or not yet better than, their rules): their absence is expected, not worth a warning.
OPTIONAL = {"themes", "tone", "guard"}


@dataclass
class Head:
    """A multi-layer perceptron (or a linear layer) with a softmax or per-label sigmoid output."""

    name: str
    labels: list[str]
    layers: list[tuple[Any, Any]]  # (weights, bias) per layer; ReLU between them
    output: str  # "softmax" or "sigmoid"
    meta: dict = field(default_factory=dict)

    @property
    def thresholds(self) -> dict[str, float]:
        return self.meta.get("thresholds", {})

    def scores(self, features: np.ndarray) -> np.ndarray:
        """(rows, labels) probabilities."""
        import numpy as np

        x = np.asarray(features, dtype=np.float32)
        for i, (w, b) in enumerate(self.layers):
            x = x @ w + b
            if i < len(self.layers) - 1:
                x = np.maximum(x, 0.0)
        if self.output == "softmax":
            x = x - x.max(axis=1, keepdims=True)
            e = np.exp(x)
            return e / e.sum(axis=1, keepdims=True)
        return 1.0 / (1.0 + np.exp(-x))


def weights_sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def save(name: str, labels: list[str], layers: list[tuple[Any, Any]], output: str, meta: dict,
         folder: Path = HEADS_DIR) -> Path:
    """Write a head's weights and its card (used by training/train.py)."""
    import numpy as np

    folder.mkdir(parents=True, exist_ok=True)
    arrays = {}
    for i, (w, b) in enumerate(layers):
        arrays[f"w{i}"] = np.asarray(w, dtype=np.float16)  # half the size; scores barely move
        arrays[f"b{i}"] = np.asarray(b, dtype=np.float32)
    weights = folder / f"{name}.npz"
    with weights.open("wb") as handle:
        np.savez_compressed(handle, **arrays)
    card = {"name": name, "labels": labels, "output": output, "layers": len(layers),
            **meta, "weights_sha256": weights_sha256(weights)}
    (folder / f"{name}.json").write_text(json.dumps(card, indent=2, sort_keys=False) + "\n", encoding="utf-8")
    return weights


_lock = threading.Lock()
_reported: set[str] = set()


@lru_cache(maxsize=16)
def _load(name: str, folder: str) -> Head | None:
    import numpy as np

    weights, card_path = Path(folder) / f"{name}.npz", Path(folder) / f"{name}.json"
    try:
        card = json.loads(card_path.read_text(encoding="utf-8"))
        if weights_sha256(weights) != card["weights_sha256"]:
            raise ValueError("its weights don't match its card (sha256)")
        with np.load(weights) as data:
            layers = [(data[f"w{i}"].astype(np.float32), data[f"b{i}"].astype(np.float32))
                      for i in range(int(card["layers"]))]
        head = Head(name, list(card["labels"]), layers, card["output"], card)
        probe = head.scores(np.zeros((1, layers[0][0].shape[0]), np.float32))
        if probe.shape != (1, len(head.labels)):
            raise ValueError("its layers don't fit its labels")
        return head
    except FileNotFoundError:
        if name in OPTIONAL and not weights.exists() and not card_path.exists():
            log.debug("no %s head installed; its rules are used", name)
        else:
            _report(name, f"The trained {name} model is missing ({weights.name}); using rules only.")
    except Exception as exc:  # damaged: never let it stop an entry being saved
        _report(name, f"The trained {name} model can't be used ({exc}); using rules only.")
    return None


def _report(name: str, text: str) -> None:
    if name not in _reported:
        _reported.add(name)
        log.warning(text)


def load(name: str, folder: Path | None = None) -> Head | None:
    """The named head (loaded once per process), or None when it is missing or damaged."""
    with _lock:
        return _load(name, str(folder or HEADS_DIR))


def reader_for(name: str) -> tuple[Head | None, str | None]:
    """The named head if it can read entries now: (head, None), or (None, why not).

    Every head was fitted to what one encoder reads (the pinned weights plus the fine-tuned
    adapters recorded in its card): with any other, its scores would mean nothing.
    """
    from voicejournal.reflection import embedding

    head = load(name)
    if head is None:
        return None, f"the trained {name} model is missing or damaged"
    encoder = embedding.get_encoder()
    if encoder is None:
        return None, "the sentence model isn't installed"
    if head.meta.get("encoder", {}).get("adapter_sha256") != encoder.adapter_sha256:
        return None, f"the trained {name} model doesn't match the sentence model's fine-tuning"
    return head, None


def problem(name: str) -> str | None:
    """Why the named head can't be used, or None when it can (for `doctor` and notices)."""
    if load(name) is not None:
        return None
    return f"the trained {name} model is missing or damaged"


def clear_cache() -> None:
    """Forget loaded heads (tests that damage a file on purpose)."""
    with _lock:
        _load.cache_clear()
        _reported.clear()
