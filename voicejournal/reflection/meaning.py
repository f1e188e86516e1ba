"""What an entry means, read once: the layer under crisis detection, themes, tone and the guard.

An entry is read by the sentence encoder (`embedding.py`) in one pass per chunk of up to 254
word pieces. Every span of it — each sentence, and overlapping windows of a dozen words, which
is what unpunctuated speech needs — gets a vector pooled from the token states of that pass, so
a span is read in the context of the words around it ("she said she wants to die" is not "I
want to die"). The chunk's own mean vector stands for the entry as a whole. A trained head
(`heads.py`) scores each span from the pair (span vector, chunk vector).

Reading an entry costs one encoder pass per chunk (~40-60 ms for a 150-word entry on two busy
cores); all the heads share it, and `read()` keeps the last few readings so risk, themes and
tone don't read the same text three times.
"""

from __future__ import annotations

import bisect
import re
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import TYPE_CHECKING

from voicejournal.reflection import embedding

if TYPE_CHECKING:
    import numpy as np

CHUNK_TOKENS = 254  # the model's 256, less [CLS] and [SEP]
CHUNK_OVERLAP = 48  # word pieces a chunk shares with the one before it
WINDOW_WORDS = 12
WINDOW_STEP = 6
SENTENCE_WORDS = 40  # a longer "sentence" is unpunctuated speech: windows cover it

_WORD = re.compile(r"\S+")
_SENTENCE_END = re.compile(r"[.!?…]+[\"'”’)]*(?=\s|$)|\n+")


@dataclass(frozen=True)
class Span:
    """A stretch of the entry: character offsets into the text, and which words it covers."""

    start: int
    end: int
    first_word: int
    last_word: int  # inclusive
    kind: str  # "sentence", "window" or "whole"
    chunk: int

    def words(self) -> int:
        return self.last_word - self.first_word + 1


@dataclass
class Reading:
    """An entry as the encoder read it: its spans, a vector for each and for its context."""

    text: str
    spans: list[Span]
    span_vectors: np.ndarray  # (spans, hidden), unit length
    chunk_vectors: np.ndarray  # (chunks, hidden), unit length
    chunks_read: int
    chunks_total: int

    def span_text(self, index: int) -> str:
        span = self.spans[index]
        return self.text[span.start : span.end]

    def features(self) -> np.ndarray:
        """What a head sees for each span: its vector beside its chunk's (spans, 2 * hidden)."""
        import numpy as np

        context = self.chunk_vectors[[s.chunk for s in self.spans]]
        return np.hstack([self.span_vectors, context]).astype(np.float32)


def words_of(text: str) -> list[tuple[int, int]]:
    """(start, end) character offsets of each whitespace-separated word."""
    return [(m.start(), m.end()) for m in _WORD.finditer(text)]


def sentences_of(text: str, words: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Word ranges (first, last) of the sentences, as the punctuation marks them."""
    ends = [m.end() for m in _SENTENCE_END.finditer(text)]
    starts = [w[0] for w in words]
    out: list[tuple[int, int]] = []
    first = 0
    for end in ends:
        last = bisect.bisect_left(starts, end) - 1
        if last >= first:
            out.append((first, last))
            first = last + 1
    if first < len(words):
        out.append((first, len(words) - 1))
    return out


@dataclass
class ChunkPlan:
    """One encoder pass: its word-piece ids and the spans pooled from it, as rows of its states."""

    first_word: int
    last_word: int
    piece_ids: list[int]
    spans: list[tuple[Span, int, int]]  # (span, first row, end row) in the pass's states ([CLS] = row 0)


def plan(text: str, tokenizer) -> list[ChunkPlan]:
    """How `text` is read: its chunks and spans (shared by the runtime and by fine-tuning)."""
    words = words_of(text)
    if not words:
        return []
    encoding = tokenizer.encode(text, add_special_tokens=False)
    starts = [w[0] for w in words]
    # which word each word piece belongs to (the pieces of "don't" all belong to it)
    word_pieces: list[list[int]] = [[] for _ in words]
    for piece, (a, _b) in enumerate(encoding.offsets):
        word_pieces[max(0, bisect.bisect_right(starts, a) - 1)].append(piece)
    ids = encoding.ids
    sentences = sentences_of(text, words)
    out: list[ChunkPlan] = []
    for slot, (first, last) in enumerate(_chunk_words(word_pieces)):
        rows: dict[int, tuple[int, int]] = {}
        row = 1  # after [CLS]
        for w in range(first, last + 1):
            n = len(word_pieces[w])
            rows[w] = (row, row + n)
            row += n
        spans: list[tuple[Span, int, int]] = []
        seen: set[tuple[int, int]] = set()
        for kind, (a, b) in _spans_in(first, last, sentences):
            lo, hi = rows[a][0], rows[b][1]
            if (a, b) in seen or hi <= lo:
                continue
            seen.add((a, b))
            spans.append((Span(words[a][0], words[b][1], a, b, kind, slot), lo, hi))
        pieces = [ids[p] for w in range(first, last + 1) for p in word_pieces[w]]
        out.append(ChunkPlan(first, last, pieces, spans))
    return out


def _read(encoder: embedding.Encoder, text: str, max_chunks: int | None, pick) -> Reading:
    import numpy as np

    hidden = encoder.hidden
    chunks = plan(text, encoder.word_tokenizer)
    total = len(chunks)
    if max_chunks is not None and total > max_chunks:
        words = words_of(text)
        ranked = pick(text, [(words[c.first_word][0], words[c.last_word][1]) for c in chunks]) if pick else range(total)
        keep = sorted(list(ranked)[:max_chunks])
        chunks = [chunks[i] for i in keep]
    states = encoder.token_states([c.piece_ids for c in chunks])
    spans: list[Span] = []
    vectors: list[np.ndarray] = []
    chunk_vectors = np.zeros((len(chunks), hidden), np.float32)
    for slot, (chunk, state) in enumerate(zip(chunks, states, strict=True)):
        mean = state.mean(0)
        chunk_vectors[slot] = mean / max(float(np.linalg.norm(mean)), 1e-12)
        for span, lo, hi in chunk.spans:
            v = state[lo:hi].mean(0)
            vectors.append(v / max(float(np.linalg.norm(v)), 1e-12))
            spans.append(Span(span.start, span.end, span.first_word, span.last_word, span.kind, slot))
    matrix = np.array(vectors, dtype=np.float32) if vectors else np.zeros((0, hidden), np.float32)
    return Reading(text, spans, matrix, chunk_vectors, len(chunks), total)


def _chunk_words(word_pieces: list[list[int]]) -> list[tuple[int, int]]:
    """Word ranges of chunks of at most CHUNK_TOKENS pieces, each sharing ~CHUNK_OVERLAP with the last."""
    chunks: list[tuple[int, int]] = []
    first = 0
    n = len(word_pieces)
    while first < n:
        size, last = 0, first
        while last < n and size + max(1, len(word_pieces[last])) <= CHUNK_TOKENS:
            size += max(1, len(word_pieces[last]))
            last += 1
        last = max(last, first + 1)  # a single absurdly long "word" still makes progress
        chunks.append((first, last - 1))
        if last >= n:
            break
        back, overlap = last, 0
        while back > first + 1 and overlap < CHUNK_OVERLAP:
            back -= 1
            overlap += len(word_pieces[back])
        first = back
    return chunks


def _spans_in(first: int, last: int, sentences: list[tuple[int, int]]):
    """The spans read in the chunk of words first..last: its whole (if short), its sentences, windows."""
    if last - first + 1 <= SENTENCE_WORDS:
        yield "whole", (first, last)
    for a, b in sentences:
        if a >= first and b <= last and b - a + 1 <= SENTENCE_WORDS:
            yield "sentence", (a, b)
    start = first
    while True:
        end = min(last, start + WINDOW_WORDS - 1)
        yield "window", (start, end)
        if end >= last:
            break
        start += WINDOW_STEP


_cache: OrderedDict[tuple[str, int | None], Reading] = OrderedDict()
_cache_lock = threading.Lock()
#: Readings being worked out right now, so a second caller waits for the first instead of
#: reading the same text again (a check-in reads the entry ahead, during the closing pause).
_in_flight: dict[tuple[str, int | None], threading.Event] = {}


def read(text: str, max_chunks: int | None = None, pick=None) -> Reading | None:
    """The entry's reading, or None when the encoder isn't installed (callers use rules only).

    With `max_chunks`, a very long text is read only in its `max_chunks` most telling chunks,
    as ranked by `pick(text, [(start, end), ...]) -> [chunk index, ...]`.
    """
    key = (text, max_chunks)
    while True:
        with _cache_lock:
            if key in _cache:
                _cache.move_to_end(key)
                return _cache[key]
            running = _in_flight.get(key)
            if running is None:
                done = _in_flight[key] = threading.Event()
                break
        running.wait()  # then take it from the cache (or read it here, if that reader failed)
    try:
        encoder = embedding.get_encoder()
        if encoder is None:
            return None
        reading = _read(encoder, text, max_chunks, pick)
        with _cache_lock:
            _cache[key] = reading
            while len(_cache) > 8:
                _cache.popitem(last=False)
        return reading
    finally:
        with _cache_lock:
            del _in_flight[key]
        done.set()


def clear_cache() -> None:
    """Forget earlier readings (benchmarks, and tests that swap the encoder)."""
    with _cache_lock:
        _cache.clear()
