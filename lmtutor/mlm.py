"""Pretraining objectives besides next-token prediction: masked LM, NSP pairs, T5 span corruption (chapter 10).

``MaskedLM`` is the bidirectional sibling of ``GPT``: the same blocks with ``causal=False`` and a
head that predicts the *masked* tokens (BERT, Devlin et al. 2019). ``shakespeare_mlm()`` trains a
small one on Tiny Shakespeare once and afterwards loads it (chapter 12 fine-tunes it).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from .attention import padding_mask
from .data import CharTokenizer
from .device import get_device
from .train import train, train_preset
from .transformer import GPT, GPTConfig

__all__ = ["IGNORE", "SPECIAL_TOKENS", "mask_tokens", "random_span_mask", "span_corrupt", "nsp_pairs"]
__all__ += ["DEFAULT_STEPS", "MLMTokenizer", "MaskedLM", "MLMObjective", "mlm_checkpoint_path", "shakespeare_mlm"]

IGNORE = -100  # label of positions without a loss (PyTorch's and 🤗's ignore_index)
SPECIAL_TOKENS = ("[PAD]", "[MASK]", "[CLS]")  # ids len(chars), len(chars) + 1, len(chars) + 2
DEFAULT_STEPS = {"nano": 300, "cpu": 400, "gpu": 5000}  # shakespeare_mlm: ~1-2 minutes on 2 idle CPU cores


def _check_ids(ids: torch.Tensor, vocab_size: int, name: str = "ids") -> None:
    if not isinstance(ids, torch.Tensor) or ids.is_floating_point() or ids.dtype == torch.bool:
        got = ids.dtype if isinstance(ids, torch.Tensor) else type(ids).__name__
        raise TypeError(f"{name} must be a tensor of integer token ids (torch.long), got {got}; use torch.tensor(ids)")
    if ids.numel() and (int(ids.min()) < 0 or int(ids.max()) >= vocab_size):
        raise ValueError(
            f"{name} holds ids in [{int(ids.min())}, {int(ids.max())}] but vocab_size={vocab_size}; "
            "pass the vocabulary size of the tokenizer that made them"
        )


def mask_tokens(
    ids: torch.Tensor,
    mask_id: int,
    vocab_size: int,
    p: float = 0.15,
    special_ids: Sequence[int] = (),
    generator: torch.Generator | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """BERT's 80/10/10 rule: select each token with probability ``p`` (never a special one); of the
    selected, 80 % become ``mask_id``, 10 % a random id from the vocabulary, 10 % stay as they are.

    Returns ``(inputs, labels)``: labels hold the original id where selected and ``IGNORE`` (-100)
    elsewhere. Shapes: ids (...) -> inputs (...), labels (...).
    """
    _check_ids(ids, vocab_size)
    if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0.0 <= p <= 1.0:
        raise ValueError(f"p is the probability of selecting a token, a number in [0, 1]; got {p!r} (BERT: 0.15)")
    if not 0 <= mask_id < vocab_size:
        raise ValueError(f"mask_id={mask_id} is outside the vocabulary [0, {vocab_size}); use tokenizer.mask_id")
    dev = generator.device if generator is not None else ids.device
    u, v = torch.rand(2, *ids.shape, generator=generator, device=dev).to(ids.device)  # two uniforms per token
    rand_ids = torch.randint(vocab_size, ids.shape, generator=generator, device=dev).to(ids.device)
    special = torch.isin(ids, torch.tensor(list(special_ids), dtype=ids.dtype, device=ids.device))
    selected = (u < p) & ~special
    labels = torch.where(selected, ids, IGNORE)
    inputs = torch.where(selected & (v < 0.8), mask_id, ids)  # 80 %: [MASK]
    inputs = torch.where(selected & (v >= 0.8) & (v < 0.9), rand_ids, inputs)  # 10 %: random; 10 %: unchanged
    return inputs, labels


def random_span_mask(
    length: int, density: float = 0.15, mean_span: float = 3.0, generator: torch.Generator | None = None
) -> torch.Tensor:
    """T5's noise mask: ~``density * length`` tokens in spans of mean length ``mean_span``. Shapes: -> (length,)."""
    if not isinstance(length, int) or length < 2:
        raise ValueError(f"length must be an int >= 2 (a sequence to corrupt), got {length!r}")
    if not 0.0 < density < 1.0 or mean_span < 1:
        raise ValueError(f"need 0 < density < 1 and mean_span >= 1, got density={density}, mean_span={mean_span}")
    n_noise = min(max(1, round(length * density)), length - 1)
    n_spans = max(1, min(round(n_noise / mean_span), n_noise, length - n_noise))

    def split(total: int) -> list[int]:  # ``total`` items into n_spans random non-empty segments
        cuts = torch.randperm(total - 1, generator=generator)[: n_spans - 1].add(1).sort().values.tolist()
        edges = [0, *cuts, total]
        return [b - a for a, b in zip(edges, edges[1:], strict=False)]

    mask = []
    for keep, noise in zip(split(length - n_noise), split(n_noise), strict=True):  # keep, noise, keep, noise, ...
        mask += [False] * keep + [True] * noise
    return torch.tensor(mask)


def span_corrupt(ids: Sequence[int], noise_mask: Sequence[bool], sentinel_ids: Sequence[int]) -> tuple[list, list]:
    """T5 span corruption: each run of noise tokens becomes one sentinel in the input; the target lists
    every sentinel followed by the tokens it replaced, and a final sentinel.

    Example: ids ``a b c d e``, noise ``0 1 1 0 1`` -> inputs ``a <0> d <1>``, targets ``<0> b c <1> e <2>``.
    """
    ids, noise = list(map(int, ids)), [bool(m) for m in noise_mask]
    if len(ids) != len(noise):
        raise ValueError(f"ids ({len(ids)} tokens) and noise_mask ({len(noise)}) must have the same length")
    inputs, targets, k = [], [], 0
    for i, (tok, m) in enumerate(zip(ids, noise, strict=True)):
        if m and (i == 0 or not noise[i - 1]):  # a span starts: one sentinel stands for all of it
            if k >= len(sentinel_ids):
                raise ValueError(f"{k + 1}+ spans need more sentinels than the {len(sentinel_ids)} given")
            inputs.append(sentinel_ids[k])
            targets.append(sentinel_ids[k])
            k += 1
        (targets if m else inputs).append(tok)
    if k >= len(sentinel_ids):
        raise ValueError(f"{k} spans need {k + 1} sentinels (one more closes the targets), got {len(sentinel_ids)}")
    return inputs, targets + [sentinel_ids[k]]


def nsp_pairs(sentences: Sequence[str], generator: torch.Generator | None = None) -> list[tuple[str, str, int]]:
    """Next-sentence-prediction pairs (BERT): for each sentence, its successor (label 1, IsNext) or, with
    probability 1/2, a random other sentence that is not its successor (label 0, NotNext)."""
    if len(sentences) < 3:
        raise ValueError(f"need at least 3 sentences to draw a random non-successor, got {len(sentences)}")
    pairs = []
    for i in range(len(sentences) - 1):
        if torch.rand((), generator=generator) < 0.5:
            pairs.append((sentences[i], sentences[i + 1], 1))
        else:
            others = [j for j in range(len(sentences)) if j not in (i, i + 1)]  # not itself, not its successor
            j = others[int(torch.randint(len(others), (), generator=generator))]
            pairs.append((sentences[i], sentences[j], 0))
    return pairs


class MLMTokenizer:
    """Character-level tokenizer with ``[PAD]``, ``[MASK]``, ``[CLS]`` after the characters.

    With the 65 characters of Tiny Shakespeare: ids 0-64 are characters (as ``CharTokenizer``),
    ``pad_id=65``, ``mask_id=66``, ``cls_id=67``, ``vocab_size=68``.
    """

    def __init__(self, chars: Sequence[str]):
        self.chars = CharTokenizer(chars)
        n = self.chars.vocab_size
        self.pad_id, self.mask_id, self.cls_id = n, n + 1, n + 2
        self.special_ids = (self.pad_id, self.mask_id, self.cls_id)
        self.vocab_size = n + len(SPECIAL_TOKENS)

    @classmethod
    def from_text(cls, text: str) -> MLMTokenizer:
        return cls(CharTokenizer.from_text(text).chars)

    def encode(self, text: str, add_cls: bool = False) -> list[int]:
        """Text -> ids, optionally with ``[CLS]`` in front (the position a classifier reads in chapter 12)."""
        return [self.cls_id] * add_cls + self.chars.encode(text)

    def decode(self, ids: Sequence[int] | torch.Tensor, skip_special: bool = False) -> str:
        """Ids -> text; special ids are written as ``[PAD]``, ``[MASK]``, ``[CLS]`` (or dropped)."""
        ids = ids.tolist() if isinstance(ids, torch.Tensor) else list(ids)
        out = []
        for i in ids:
            if i in self.special_ids:
                out.append("" if skip_special else SPECIAL_TOKENS[i - self.pad_id])
            else:
                out.append(self.chars.decode([i]))
        return "".join(out)

    def pad(self, seqs: Sequence[Sequence[int]], length: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Right-pad id lists to one length. Shapes: -> ids (B, T) long, attention_mask (B, T) long (1 = real)."""
        if not seqs or isinstance(seqs, str) or isinstance(seqs[0], (int, str)):
            raise TypeError("pad expects a non-empty list of id lists, e.g. [tok.encode('a'), tok.encode('bc')]")
        length = length or max(len(s) for s in seqs)
        too_long = [len(s) for s in seqs if len(s) > length]
        if too_long:
            raise ValueError(f"a sequence of {max(too_long)} ids is longer than length={length}; crop it first")
        ids = torch.full((len(seqs), length), self.pad_id, dtype=torch.long)
        mask = torch.zeros(len(seqs), length, dtype=torch.long)
        for b, s in enumerate(seqs):
            ids[b, : len(s)] = torch.tensor(list(s), dtype=torch.long)
            mask[b, : len(s)] = 1
        return ids, mask

    def __call__(self, texts: Sequence[str], add_cls: bool = True, max_length: int | None = None):
        """Encode, crop to ``max_length`` and pad a batch of texts: -> (ids (B, T), attention_mask (B, T))."""
        if isinstance(texts, str):
            texts = [texts]
        seqs = [self.encode(t, add_cls)[:max_length] for t in texts]
        return self.pad(seqs)

    def __repr__(self) -> str:
        ids = f"pad_id={self.pad_id}, mask_id={self.mask_id}, cls_id={self.cls_id}"
        return f"MLMTokenizer(vocab_size={self.vocab_size}, {ids})"


class MaskedLM(nn.Module):
    """Encoder-only Transformer (BERT-like): embeddings, N bidirectional blocks, final LayerNorm, tied head.

    Shapes: idx (B, T) -> logits (B, T, V); ``encode`` -> hidden states (B, T, D).
    ``attention_mask`` (B, T), 1 = real token, 0 = padding: no position attends to padding.
    """

    def __init__(self, config: GPTConfig):
        super().__init__()
        if not isinstance(config, GPTConfig):
            raise TypeError(f"MaskedLM needs a GPTConfig, got {type(config).__name__}; e.g. GPTConfig(vocab_size=68)")
        self.config = config
        GPT._build(self, config, causal=False)  # the GPT's layers and initialisation, every block bidirectional

    def encode(self, idx: torch.Tensor, attention_mask: torch.Tensor | None = None) -> torch.Tensor:
        """Contextual vectors of every position. Shapes: idx (B, T), attention_mask (B, T) -> (B, T, D)."""
        GPT._check_idx(self, idx)
        B, T = idx.shape
        if T > self.config.block_size:
            raise ValueError(f"{T} tokens exceed block_size={self.config.block_size}; crop with idx[:, :block_size]")
        mask = None
        if attention_mask is not None:
            if tuple(attention_mask.shape) != (B, T):
                raise ValueError(
                    f"attention_mask must have the shape of idx {(B, T)}, got {tuple(attention_mask.shape)}"
                )
            mask = padding_mask(attention_mask.to(idx.device))  # (B, 1, 1, T): no query attends to padding
        x = self.tok_emb(idx)  # (B, T, D)
        if self.pos_emb is not None:
            x = x + self.pos_emb(T)
        x = self.drop(x)
        for block in self.blocks:
            x, _ = block(x, mask=mask, rope=self.rope)
        return self.ln_f(x)

    def forward(self, idx: torch.Tensor, targets: torch.Tensor | None = None, attention_mask=None):
        """Return ``(logits, loss)``: cross-entropy over positions whose target is not -100 (None without targets).

        A batch where every target is -100 gets a loss of 0 (no selected token: nothing to learn).
        """
        logits = self.lm_head(self.encode(idx, attention_mask))  # (B, T, V)
        if targets is None:
            return logits, None
        if targets.shape != idx.shape or targets.is_floating_point():
            raise ValueError(
                f"targets must be integer ids of the shape of idx {tuple(idx.shape)} (-100 = no loss), "
                f"got {tuple(targets.shape)} {targets.dtype}; use the labels from mask_tokens"
            )
        if not bool((targets != IGNORE).any()):
            return logits, logits.sum() * 0.0
        return logits, F.cross_entropy(logits.flatten(0, 1), targets.flatten().long(), ignore_index=IGNORE)


class MLMObjective(nn.Module):
    """Lets ``lmtutor.train.train`` pretrain a ``MaskedLM``: each batch ``x`` is masked on the fly and the
    next-token targets ``y`` are ignored. Evaluation (eval mode) masks with a fixed seed, so losses compare."""

    def __init__(self, model: MaskedLM, tokenizer: MLMTokenizer, p: float = 0.15):
        super().__init__()
        self.model, self.config, self.tok, self.p = model, model.config, tokenizer, p

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None):
        gen = None if self.training else torch.Generator().manual_seed(0)
        t = self.tok
        inputs, labels = mask_tokens(x, t.mask_id, t.vocab_size, self.p, t.special_ids, gen)
        return self.model(inputs, labels)


def mlm_checkpoint_path(preset: str, steps: int) -> Path:
    """``cache_dir()/shakespeare-mlm-rope-<preset>-<steps>.pt``."""
    from .recipes import cache_dir

    return cache_dir() / f"shakespeare-mlm-rope-{preset}-{steps}.pt"


def shakespeare_mlm(
    steps: int | None = None, device: torch.device | str | None = None, retrain: bool = False, preset: str | None = None
) -> tuple[MaskedLM, MLMTokenizer]:
    """The character-level masked LM of chapter 10: loaded from its checkpoint if it exists, else trained.

    Same size and training recipe as the chapter-9 GPT (``default_preset``: ``nano`` in fast mode,
    ``cpu`` on a CPU, ``gpu`` on CUDA) but rotary positions (a [MASK] has no token of its own: it must
    find its neighbours by relative position) and ``DEFAULT_STEPS`` (300 nano, 400 cpu, 5000 gpu) unless
    ``steps`` is given; ``preset`` picks another size (``"nano"``, ``"cpu"``, ``"gpu"``). The model is in
    eval mode; ``model.history`` holds the training history.
    """
    from .recipes import default_preset, shakespeare_data

    device = get_device(device)
    preset = preset or default_preset(device)
    cfg = train_preset(preset)
    if steps is not None and (isinstance(steps, bool) or not isinstance(steps, int) or steps < 1):
        raise ValueError(f"steps must be a positive int (or None for the preset's), got {steps!r}")
    steps = steps or DEFAULT_STEPS.get(preset, cfg.max_steps)
    cfg = replace(cfg, max_steps=steps, warmup_steps=min(cfg.warmup_steps, steps), compile=False)
    cfg = replace(cfg, checkpoint_interval=cfg.eval_interval)
    chars, train_ids, val_ids = shakespeare_data()
    tok = MLMTokenizer(chars.chars)
    with torch.random.fork_rng(devices=[]):  # the same initial weights every time
        torch.manual_seed(cfg.seed)
        model = MaskedLM(GPTConfig.preset(preset, vocab_size=tok.vocab_size, pos_encoding="rope"))
    objective = MLMObjective(model, tok)
    path = mlm_checkpoint_path(preset, cfg.max_steps)
    model.history = train(objective, train_ids, val_ids, cfg, device=device, checkpoint_path=path, resume=not retrain)
    return model.eval(), tok
