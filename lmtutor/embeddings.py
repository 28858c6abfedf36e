"""Word embeddings: words of Tiny Shakespeare, skip-gram word2vec, neighbours, PCA (chapter 3).

word2vec (Mikolov et al., 2013) is the historical step: one vector per word, learned from
which words occur near which. A large language model learns its embedding table end to end,
together with the rest of the network. Cosine similarity, nearest neighbours and projections
work the same on both kinds of vectors. Their figures and the interactive explorer are in
``lmtutor.viz.embeddings``.
"""

from __future__ import annotations

import re
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from .train import set_lr, train_step

__all__ = [
    "tokenize_words",
    "WordVocab",
    "one_hot_embed",
    "subsample",
    "skipgram_pairs",
    "sgns_loss",
    "SkipGram",
    "Word2VecConfig",
    "train_word2vec",
    "cosine_similarity",
    "nearest_neighbours",
    "most_similar",
    "fit_pca",
    "pca_project",
]

WORD_RE = re.compile(r"[a-z]+(?:'[a-z]+)*")  # letters with inner apostrophes: "o'er", "king's"
SPEAKER_RE = re.compile(r"(?m)(?:\A|(?<=\n\n))[^\n]+:\n")  # "ROMEO:" lines that open a speech


def tokenize_words(text: str, drop_speakers: bool = True) -> list[str]:
    """Lowercase words of ``text``; speaker labels ("First Citizen:") are removed first by default."""
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}")
    if drop_speakers:
        text = SPEAKER_RE.sub("", text)
    return WORD_RE.findall(text.lower())


class WordVocab:
    """The ``max_size`` most frequent words, id 0 the most frequent; ``counts`` feed subsampling and noise."""

    def __init__(self, words: Sequence[str], counts: Sequence[int]):
        if not words or len(words) != len(counts) or len(set(words)) != len(words):
            raise ValueError("WordVocab needs a non-empty list of distinct words and one count per word")
        self.words, self.counts = list(words), torch.tensor(counts, dtype=torch.float)
        self.stoi = {w: i for i, w in enumerate(self.words)}

    @classmethod
    def from_words(cls, words: Sequence[str], max_size: int = 2000) -> WordVocab:
        """Keep the ``max_size`` most frequent words (ties broken by first occurrence)."""
        if max_size < 1:
            raise ValueError(f"max_size must be >= 1, got {max_size}")
        common = Counter(words).most_common(max_size)
        if not common:
            raise ValueError("cannot build a vocabulary from an empty list of words")
        return cls([w for w, _ in common], [c for _, c in common])

    def __len__(self) -> int:
        return len(self.words)

    def __contains__(self, word: str) -> bool:
        return word in self.stoi

    def id(self, word: str) -> int:
        """Id of ``word``, with a clear error for words outside the vocabulary."""
        if word not in self.stoi:
            raise KeyError(f"{word!r} is not among the {len(self)} vocabulary words; pick a more frequent word")
        return self.stoi[word]

    def encode(self, words: Sequence[str]) -> torch.Tensor:
        """Ids of the words that are in the vocabulary (others are dropped). Shape (N,)."""
        return torch.tensor([self.stoi[w] for w in words if w in self.stoi], dtype=torch.long)

    def __repr__(self) -> str:
        return f"WordVocab(size={len(self)}, most frequent={self.words[:5]})"


def one_hot_embed(ids: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """Embed by matrix product: one_hot(ids) @ W with W of shape (V, D). Shapes: (...,) -> (..., D)."""
    if ids.dtype not in (torch.int64, torch.int32):
        raise TypeError(f"ids must be integer token ids, got {ids.dtype}")
    if weight.dim() != 2:
        raise ValueError(f"weight must be the (V, D) embedding matrix, got shape {tuple(weight.shape)}")
    if ids.numel() and (ids.min() < 0 or ids.max() >= weight.shape[0]):
        raise ValueError(f"ids must lie in [0, {weight.shape[0]}), the rows of weight")
    return F.one_hot(ids.long(), weight.shape[0]).to(weight.dtype) @ weight  # (..., V) @ (V, D)


def subsample(ids: torch.Tensor, counts: torch.Tensor, threshold: float = 1e-3, generator=None) -> torch.Tensor:
    """Drop each occurrence of word w with probability 1 - sqrt(threshold / f(w)) (Mikolov et al., 2013b)."""
    if threshold <= 0:
        raise ValueError(f"threshold must be > 0, got {threshold}")
    freq = counts / counts.sum()
    keep = (threshold / freq[ids]).sqrt().clamp(max=1.0)
    return ids[torch.rand(len(ids), generator=generator) < keep]


def skipgram_pairs(ids: torch.Tensor, window: int) -> tuple[torch.Tensor, torch.Tensor]:
    """All (center, context) pairs with 1 <= |offset| <= window, ordered by center then context position."""
    if window < 1:
        raise ValueError(f"window must be >= 1 (words on each side), got {window}")
    if ids.dim() != 1:
        raise ValueError(f"ids must be a 1-D tensor of word ids, got shape {tuple(ids.shape)}")
    n = len(ids)
    offsets = torch.cat([torch.arange(-window, 0), torch.arange(1, window + 1)])  # (2w,)
    positions = torch.arange(n)[:, None] + offsets[None, :]  # (N, 2w) context positions
    valid = (positions >= 0) & (positions < n)
    centers = torch.arange(n)[:, None].expand(-1, 2 * window)[valid]
    return ids[centers], ids[positions[valid]]


def sgns_loss(center: torch.Tensor, context: torch.Tensor, negatives: torch.Tensor) -> torch.Tensor:
    """Negative-sampling loss -log σ(u_o·v_c) - Σ_k log σ(-u_k·v_c), batch mean. (B, D), (B, D), (B, K, D)."""
    pos = (center * context).sum(-1)  # (B,)
    neg = (negatives @ center[:, :, None]).squeeze(-1)  # (B, K, D) @ (B, D, 1) -> (B, K)
    return -(F.logsigmoid(pos) + F.logsigmoid(-neg).sum(-1)).mean()


class SkipGram(nn.Module):
    """Skip-gram with negative sampling: a center table v and a context table u, both (V, D)."""

    def __init__(self, vocab_size: int, dim: int):
        super().__init__()
        self.center = nn.Embedding(vocab_size, dim)
        self.context = nn.Embedding(vocab_size, dim)
        nn.init.uniform_(self.center.weight, -0.5 / dim, 0.5 / dim)  # the initialisation of word2vec's C code
        nn.init.zeros_(self.context.weight)

    def forward(self, center: torch.Tensor, context: torch.Tensor, negatives: torch.Tensor) -> torch.Tensor:
        """Loss of a batch. Shapes: center (B,), context (B,), negatives (B, K) -> scalar."""
        return sgns_loss(self.center(center), self.context(context), self.context(negatives))

    @property
    def vectors(self) -> torch.Tensor:
        """The word vectors: the center table, detached. (V, D)."""
        return self.center.weight.detach()


@dataclass
class Word2VecConfig:
    """Settings of ``train_word2vec``; the defaults train in about a minute on 2 CPU cores."""

    dim: int = 64  # D
    window: int = 2  # context words on each side: small windows favour words of the same kind
    negatives: int = 5  # K noise words per pair
    batch_size: int = 4096  # pairs per step
    steps: int = 1500
    lr: float = 0.01  # Adam, decayed linearly to 1% of this
    noise_power: float = 0.75  # noise distribution ∝ count^0.75
    subsample: float | None = None  # e.g. 1e-3 drops frequent words; None keeps every word
    seed: int = 0
    threads: int | None = 1  # CPU threads while training; the kernels are tiny, more threads only add overhead


@contextmanager
def _num_threads(n: int | None) -> Iterator[None]:
    old = torch.get_num_threads()
    if n is not None:
        torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(old)


def train_word2vec(
    ids: torch.Tensor, counts: torch.Tensor, config: Word2VecConfig | None = None
) -> tuple[SkipGram, dict[str, list]]:
    """Train skip-gram with negative sampling on a 1-D tensor of word ids; return the model and loss history."""
    cfg = config or Word2VecConfig()
    if ids.dim() != 1 or len(ids) <= cfg.window:
        raise ValueError(f"ids must be a 1-D tensor longer than window={cfg.window}, got shape {tuple(ids.shape)}")
    if int(ids.max()) >= len(counts):
        raise ValueError(f"ids reach {int(ids.max())} but counts has only {len(counts)} entries (one per word)")
    gen = torch.Generator().manual_seed(cfg.seed)
    torch.manual_seed(cfg.seed)
    if cfg.subsample is not None:
        ids = subsample(ids, counts, cfg.subsample, gen)
    centers, contexts = skipgram_pairs(ids, cfg.window)
    noise = counts.float() ** cfg.noise_power
    model = SkipGram(len(counts), cfg.dim)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    history: dict[str, list] = {"step": [], "loss": [], "elapsed": []}

    def sgns(words, _):  # the loss of a batch of (center, context, negatives)
        return None, model(*words)

    start = time.perf_counter()
    with _num_threads(cfg.threads):
        for step in range(cfg.steps):
            set_lr(opt, cfg.lr * (1 - 0.99 * step / cfg.steps))  # linear decay to 1 %
            batch = torch.randint(len(centers), (cfg.batch_size,), generator=gen)
            neg = torch.multinomial(noise, cfg.batch_size * cfg.negatives, replacement=True, generator=gen)
            words = (centers[batch], contexts[batch], neg.view(cfg.batch_size, cfg.negatives))  # (B,), (B,), (B, K)
            loss = train_step(model, opt, words, grad_clip=None, use_autocast=False, forward=sgns)
            history["step"].append(step)
            history["loss"].append(loss.item())
            history["elapsed"].append(time.perf_counter() - start)
    return model.eval(), history


def cosine_similarity(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Cosine of every row of ``a`` with every row of ``b``. Shapes: (N, D) or (D,), (M, D) -> (N, M) or (M,)."""
    if a.shape[-1] != b.shape[-1]:
        raise ValueError(f"vectors must have the same width D, got {tuple(a.shape)} and {tuple(b.shape)}")
    return F.normalize(a.float(), dim=-1) @ F.normalize(b.float(), dim=-1).transpose(-2, -1)


def nearest_neighbours(
    query: torch.Tensor, vectors: torch.Tensor, k: int = 5, exclude: Sequence[int] = ()
) -> tuple[torch.Tensor, torch.Tensor]:
    """Indices and cosine similarities of the ``k`` rows of ``vectors`` (N, D) closest to ``query`` (D,)."""
    if query.dim() != 1 or vectors.dim() != 2:
        raise ValueError(f"query must be (D,) and vectors (N, D), got {tuple(query.shape)}, {tuple(vectors.shape)}")
    if not 1 <= k <= len(vectors) - len(set(exclude)):
        raise ValueError(f"k={k} must be between 1 and the {len(vectors)} vectors minus the {len(exclude)} excluded")
    sims = cosine_similarity(query, vectors)  # (N,)
    if exclude:
        sims = sims.index_fill(0, torch.tensor(list(exclude)), float("-inf"))  # e.g. the query word itself
    top = sims.topk(k)
    return top.indices, top.values


def most_similar(word: str, vectors: torch.Tensor, vocab: WordVocab, k: int = 5) -> list[tuple[str, float]]:
    """The ``k`` words closest to ``word`` by cosine similarity, the word itself excluded."""
    i = vocab.id(word)
    idx, sims = nearest_neighbours(vectors[i], vectors, k, exclude=[i])
    return [(vocab.words[j], round(s, 3)) for j, s in zip(idx.tolist(), sims.tolist(), strict=True)]


def fit_pca(x: torch.Tensor, n_components: int = 2) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean (D,) and top principal directions (k, D) of the rows of ``x`` (N, D), via SVD, signs fixed."""
    if x.dim() != 2 or len(x) < 2 or not 1 <= n_components <= min(x.shape):
        raise ValueError(f"fit_pca needs (N >= 2, D) data and 1 <= n_components <= min(N, D), got {tuple(x.shape)}")
    mean = x.float().mean(0)
    _, _, vh = torch.linalg.svd(x.float() - mean, full_matrices=False)  # rows of vh: directions
    comps = vh[:n_components]  # (k, D)
    signs = comps.gather(1, comps.abs().argmax(1, keepdim=True)).sign()  # largest entry positive
    return mean, comps * signs


def pca_project(x: torch.Tensor, mean: torch.Tensor, components: torch.Tensor) -> torch.Tensor:
    """Coordinates of ``x`` (N, D) on the principal directions. -> (N, k)."""
    return (x.float() - mean) @ components.T
