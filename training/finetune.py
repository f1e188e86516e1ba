"""Fine-tune the sentence encoder for reading journal entries: `python training/finetune.py` (`make finetune`).

The frozen all-MiniLM-L6-v2 knows topics well but not what matters here: "my boss is going to
kill me" and "he's going to kill me" sit close together. This trains small low-rank adapters
(LoRA, rank 8) on every dense layer of the encoder, together with throw-away heads for the
tasks that read entries (crisis risk per span, themes per span, the tone of the whole), on the
labelled data in training/. Only the adapters are kept: `voicejournal/reflection/heads/encoder.npz`
(about 1 MB in fp16). The runtime stays the numpy encoder: it adds the adapters to the pinned
weights once, when it loads (`embedding.Encoder`), and `training/train.py` then fits the heads
that are shipped on what the adapted encoder reads.

Needs torch (the `train` extra: `pip install 'voicejournal[train]'`; the CPU build is enough).
About an hour on two CPU cores. Seeded: the same data gives the same adapters on the same machine.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import train as T  # noqa: E402

from voicejournal.reflection import embedding, heads, meaning  # noqa: E402

try:
    import torch
    from torch import nn
except ImportError:  # pragma: no cover - explained to the person running it
    raise SystemExit("Fine-tuning needs torch: pip install 'voicejournal[train]' (the CPU build is enough).") from None

SETTINGS = {"rank": 8, "alpha": 16, "epochs": 3, "lr": 5e-4, "batch_tokens": 2048, "seed": 11,
            "theme_weight": 0.5, "tone_weight": 0.2}
ADAPTED = ("qkv", "out", "up", "down")


class LoRALinear(nn.Module):
    """x @ W + b with W frozen, plus the trained low-rank change x @ A @ B * scale."""

    def __init__(self, w: np.ndarray, b: np.ndarray, rank: int, alpha: float, gen: torch.Generator) -> None:
        super().__init__()
        self.w = nn.Parameter(torch.from_numpy(w.copy()), requires_grad=False)
        self.b = nn.Parameter(torch.from_numpy(b.copy()), requires_grad=False)
        self.a = nn.Parameter(torch.randn(w.shape[0], rank, generator=gen) / math.sqrt(w.shape[0]))
        self.bb = nn.Parameter(torch.zeros(rank, w.shape[1]))
        self.scale = alpha / rank

    def forward(self, x):
        return x @ self.w + self.b + (x @ self.a) @ self.bb * self.scale


class TorchMiniLM(nn.Module):
    """The same computation as `embedding.Encoder._forward`, in torch, with adapters."""

    def __init__(self, encoder: embedding.Encoder, rank: int, alpha: float, seed: int) -> None:
        super().__init__()
        gen = torch.Generator().manual_seed(seed)
        t = lambda a: nn.Parameter(torch.from_numpy(np.array(a, dtype=np.float32)), requires_grad=False)  # noqa: E731
        self.word, self.position, self.token_type = t(encoder.word), t(encoder.position), t(encoder.token_type)
        self.emb_g, self.emb_b = t(encoder.emb_ln[0]), t(encoder.emb_ln[1])
        self.heads_n, self.hidden, self.eps = encoder.heads, encoder.hidden, encoder.eps
        self.layers = nn.ModuleList()
        for layer in encoder.layers:
            m = nn.Module()
            m.qkv = LoRALinear(layer.qkv_w, layer.qkv_b, rank, alpha, gen)
            m.out = LoRALinear(layer.out_w, layer.out_b, rank, alpha, gen)
            m.up = LoRALinear(layer.up_w, layer.up_b, rank, alpha, gen)
            m.down = LoRALinear(layer.down_w, layer.down_b, rank, alpha, gen)
            m.ln1_g, m.ln1_b, m.ln2_g, m.ln2_b = t(layer.ln1_g), t(layer.ln1_b), t(layer.ln2_g), t(layer.ln2_b)
            self.layers.append(m)

    def _ln(self, x, g, b):
        return torch.nn.functional.layer_norm(x, (self.hidden,), g, b, self.eps)

    def forward(self, ids, mask):
        n, length = ids.shape
        d = self.hidden // self.heads_n
        h = self.word[ids] + self.position[:length][None] + self.token_type[0][None, None]
        h = self._ln(h, self.emb_g, self.emb_b)
        bias = (1.0 - mask[:, None, None, :]) * torch.finfo(torch.float32).min
        for m in self.layers:
            qkv = m.qkv(h)
            q, k, v = (qkv[..., i * self.hidden:(i + 1) * self.hidden].reshape(n, length, self.heads_n, d).transpose(1, 2)
                       for i in range(3))
            scores = q @ k.transpose(-1, -2) / math.sqrt(d) + bias
            context = torch.softmax(scores, -1) @ v
            context = context.transpose(1, 2).reshape(n, length, self.hidden)
            h = self._ln(m.out(context) + h, m.ln1_g, m.ln1_b)
            up = torch.nn.functional.gelu(m.up(h))  # exact (erf) GELU, as BERT and the numpy encoder
            h = self._ln(m.down(up) + h, m.ln2_g, m.ln2_b)
        return h

    def adapter_arrays(self) -> dict[str, np.ndarray]:
        out = {}
        for i, m in enumerate(self.layers):
            for name in ADAPTED:
                lin = getattr(m, name)
                out[f"l{i}.{name}.a"] = lin.a.detach().numpy().astype(np.float16)
                out[f"l{i}.{name}.b"] = (lin.bb.detach().numpy() * lin.scale).astype(np.float16)
        return out


# ---------------------------------------------------------------- training items


class Item:
    """One chunk of one example, ready for the model: ids, spans as rows, and their targets."""

    def __init__(self, chunk: meaning.ChunkPlan, cls: int, sep: int) -> None:
        self.ids = [cls, *chunk.piece_ids, sep]
        self.rows = [(lo, hi) for _, lo, hi in chunk.spans]
        self.spans = [s for s, _, _ in chunk.spans]
        self.risk: list[int] = []  # per span: label index, or -1 (ignore)
        self.risk_bag: int = -1  # a risky snippet whose span is not marked: the most telling span carries it
        self.themes: np.ndarray | None = None  # (spans, themes) with 1 / 0 / -1 (ignore)
        self.tone: int = -1


def risk_items(examples: list[T.Example], tokenizer, cls: int, sep: int) -> list[Item]:
    label_index = {label: i for i, label in enumerate(T.RISK_LABELS)}
    out = []
    for ex in examples:
        for chunk in meaning.plan(ex.text, tokenizer):
            item = Item(chunk, cls, sep)
            y = label_index[ex.label]
            if ex.label == "none":
                item.risk = [0] * len(item.spans)
            elif ex.parts:
                item.risk = []
                for span in item.spans:
                    share = T._overlap(span, ex.text, ex.parts)
                    item.risk.append(y if share >= 0.6 else (0 if share == 0.0 else -1))
                if all(r in (0, -1) for r in item.risk) and any(T._overlap(s, ex.text, ex.parts) > 0 for s in item.spans):
                    item.risk_bag = y  # the part straddles the chunk edge: let the chunk carry it
            else:
                item.risk = [-1] * len(item.spans)
                item.risk_bag = y
            out.append(item)
    return out


def theme_items(examples: list[T.ThemeExample], tokenizer, cls: int, sep: int) -> list[Item]:
    index = {name: i for i, name in enumerate(T.THEMES)}
    out = []
    for ex in examples:
        for chunk in meaning.plan(ex.text, tokenizer):
            item = Item(chunk, cls, sep)
            grid = np.zeros((len(item.spans), len(T.THEMES)), dtype=np.float32)
            for name, words in ex.themes.items():
                for s, span in enumerate(item.spans):
                    share = T._overlap(span, ex.text, [words])
                    grid[s, index[name]] = 1.0 if share >= 0.6 else (0.0 if share == 0.0 else -1.0)
            item.themes = grid
            item.tone = T.TONES.index(ex.tone) if ex.tone in T.TONES else -1
            item.risk = [0] * len(item.spans)  # theme examples are all ordinary (no risk)
            out.append(item)
    return out


def batches(items: list[Item], budget: int, rng: random.Random):
    order = sorted(range(len(items)), key=lambda i: (len(items[i].ids), rng.random()))
    groups, current, width = [], [], 0
    for i in order:
        w = max(width, len(items[i].ids))
        if current and w * (len(current) + 1) > budget:
            groups.append(current)
            current, w = [], len(items[i].ids)
        current.append(i)
        width = w
    if current:
        groups.append(current)
    rng.shuffle(groups)
    return groups


# ---------------------------------------------------------------- the loop


def pool(h, item_rows, slot):
    vecs = torch.stack([h[slot, lo:hi].mean(0) for lo, hi in item_rows])
    return torch.nn.functional.normalize(vecs, dim=-1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=SETTINGS["epochs"])
    parser.add_argument("--limit", type=int, default=0, help="use only this many examples (a quick trial)")
    args = parser.parse_args()
    torch.manual_seed(SETTINGS["seed"])
    torch.set_num_threads(max(1, torch.get_num_threads()))
    rng = random.Random(SETTINGS["seed"])

    encoder = embedding.Encoder(embedding.model_dir(), adapter=None)
    tok = encoder.word_tokenizer
    risk = T.risk_examples(T.RISK_FILES)
    risk += T.composites(risk, random.Random(T.RISK_SETTINGS["seed"]), T.RISK_SETTINGS["composites"])
    themes = T.theme_examples(T.THEME_FILES)
    if args.limit:
        rng.shuffle(risk)
        rng.shuffle(themes)
        risk, themes = risk[: args.limit], themes[: args.limit // 2]
    items = risk_items(risk, tok, encoder.cls_id, encoder.sep_id) + theme_items(themes, tok, encoder.cls_id, encoder.sep_id)
    print(f"fine-tuning on {len(risk)} risk and {len(themes)} theme examples: {len(items)} chunks", flush=True)

    model = TorchMiniLM(encoder, SETTINGS["rank"], SETTINGS["alpha"], SETTINGS["seed"])
    hidden = encoder.hidden
    risk_head = nn.Sequential(nn.Linear(2 * hidden, 128), nn.ReLU(), nn.Linear(128, len(T.RISK_LABELS)))
    theme_head = nn.Sequential(nn.Linear(2 * hidden, 128), nn.ReLU(), nn.Linear(128, len(T.THEMES)))
    tone_head = nn.Linear(hidden, len(T.TONES))
    trainable = [p for p in model.parameters() if p.requires_grad]
    trainable += list(risk_head.parameters()) + list(theme_head.parameters()) + list(tone_head.parameters())
    optim = torch.optim.AdamW(trainable, lr=SETTINGS["lr"], weight_decay=0.01)

    counts = Counter(r for it in items for r in it.risk if r >= 0)
    counts.update(it.risk_bag for it in items if it.risk_bag >= 0)
    risk_w = torch.tensor([math.sqrt(max(counts.values()) / max(1, counts[c])) for c in range(len(T.RISK_LABELS))])
    plan_batches = [batches(items, SETTINGS["batch_tokens"], rng) for _ in range(args.epochs)]
    total = sum(len(b) for b in plan_batches)
    step = 0
    started = time.monotonic()
    for epoch, groups in enumerate(plan_batches):
        for group in groups:
            chosen = [items[i] for i in group]
            width = max(len(it.ids) for it in chosen)
            ids = torch.zeros((len(chosen), width), dtype=torch.long)
            mask = torch.zeros((len(chosen), width))
            for r, it in enumerate(chosen):
                ids[r, : len(it.ids)] = torch.tensor(it.ids)
                mask[r, : len(it.ids)] = 1.0
            lr = SETTINGS["lr"] * min(1.0, (step + 1) / 50) * max(0.05, 1 - step / total)
            for g in optim.param_groups:
                g["lr"] = lr
            h = model(ids, mask)
            loss = torch.zeros(())
            for r, it in enumerate(chosen):
                spans = pool(h, it.rows, r)
                ctx = torch.nn.functional.normalize((h[r, : len(it.ids)]).mean(0), dim=-1)
                x = torch.cat([spans, ctx.expand(len(spans), -1)], 1)
                logits = risk_head(x)
                target = torch.tensor(it.risk)
                keep = target >= 0
                if keep.any():
                    loss = loss + torch.nn.functional.cross_entropy(logits[keep], target[keep], weight=risk_w,
                                                                    reduction="sum") / len(chosen)
                if it.risk_bag >= 0:
                    # the label is somewhere in the snippet: its most telling span must show it
                    logp = torch.log_softmax(logits, -1)[:, it.risk_bag]
                    loss = loss - risk_w[it.risk_bag] * 2.0 * logp.max() / len(chosen)
                if it.themes is not None:
                    grid = torch.from_numpy(it.themes)
                    keep = grid >= 0
                    tl = theme_head(x)
                    loss = loss + SETTINGS["theme_weight"] * torch.nn.functional.binary_cross_entropy_with_logits(
                        tl[keep], grid[keep], reduction="sum") / max(1, int(keep.sum())) * len(it.spans) / len(chosen)
                if it.tone >= 0:
                    loss = loss + SETTINGS["tone_weight"] * torch.nn.functional.cross_entropy(
                        tone_head(ctx)[None], torch.tensor([it.tone])) / len(chosen)
            optim.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(trainable, 1.0)
            optim.step()
            step += 1
            if step % 25 == 0 or step == total:
                rate = (time.monotonic() - started) / step
                print(f"  epoch {epoch + 1} step {step}/{total} loss {loss.item():.3f} "
                      f"({rate:.1f} s/step, ~{rate * (total - step) / 60:.0f} min left)", flush=True)

    arrays = model.adapter_arrays()
    heads.HEADS_DIR.mkdir(parents=True, exist_ok=True)
    path = heads.HEADS_DIR / "encoder.npz"
    with path.open("wb") as handle:
        np.savez_compressed(handle, **arrays)
    # The numpy encoder with these adapters must read exactly what torch read.
    adapted = embedding.Encoder(embedding.model_dir(), adapter=path)
    probe = items[0]
    with torch.no_grad():
        expected = model(torch.tensor([probe.ids]), torch.ones((1, len(probe.ids)))).numpy()[0]
    got = adapted.token_states([probe.ids[1:-1]])[0]
    gap = float(np.abs(expected - got).max())
    if gap > 5e-2:  # fp16 storage of the adapters moves states by ~1e-3
        raise SystemExit(f"the numpy encoder with the adapters differs from torch by {gap:.3g}")
    print(f"  numpy encoder with adapters matches torch (largest difference {gap:.1e})")
    card = {"name": "encoder", "base": embedding.MODEL_NAME, "base_sha256": embedding.PINNED_SHA256["model.safetensors"],
            "kind": "LoRA adapters added to every dense layer (W + A @ B)", "settings": SETTINGS,
            "epochs": args.epochs, "limit": args.limit,
            "data_sha256": T.fingerprint(T.RISK_FILES + T.THEME_FILES, json.dumps(SETTINGS, sort_keys=True)),
            "weights_sha256": heads.weights_sha256(path)}
    (heads.HEADS_DIR / "encoder.json").write_text(json.dumps(card, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {path.relative_to(ROOT)} ({path.stat().st_size // 1024} kB); now run `python training/train.py all`")


if __name__ == "__main__":
    main()
