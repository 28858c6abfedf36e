"""Fine-tuning a pretrained encoder on a labelled task (chapter 12).

``sentiment_dataset`` gives the chapter's labelled data as a 🤗 ``DatasetDict``: SST-2 from the hub
when it is reachable, else the book's generated review sentences (``lmtutor.offline.data``), and says
which. ``EncoderClassifier`` puts a linear head on any encoder (a 🤗 ``BertModel`` or the masked LM of
chapter 10); ``fit_classifier`` trains it with a plain loop and ``learning_curve`` measures accuracy
against the number of labelled examples. ``lora_forward`` writes out LoRA's update.
"""

from __future__ import annotations

import math
import re
import time
from collections import Counter
from collections.abc import Callable, Sequence

import torch
from torch import nn

from .device import get_device
from .offline.data import SENTIMENT_LABELS, sentiment_examples
from .pretrained import mean_pool
from .train import set_lr, train_step

__all__ = ["SST2_NAME", "sentiment_dataset", "accuracy", "compute_metrics", "majority_baseline", "bow_baseline"]
__all__ += ["EncoderClassifier", "encode_texts", "fit_classifier", "evaluate", "learning_curve", "lora_forward"]
__all__ += ["trainable_parameters"]

SST2_NAME = "stanfordnlp/sst2"  # 67,349 training sentences of film reviews, 872 for validation (Socher et al., 2013)


def _check_sizes(n_train: int, n_val: int, n_test: int) -> None:
    for name, n in (("n_train", n_train), ("n_val", n_val), ("n_test", n_test)):
        if not isinstance(n, int) or n < 2:
            raise ValueError(f"{name} must be an integer >= 2 (examples of both classes), got {n!r}")


def _book_splits(n_train: int, n_val: int, n_test: int, seed: int) -> tuple[list, list, list]:
    """Train and validation share subjects and phrases; the test set's are never seen in training."""
    pool, test = sentiment_examples(n_train=n_train + 4 * n_val, n_test=n_test, seed=seed)
    train = pool[:n_train]
    seen = {s for s, _ in train}
    val = [(s, y) for s, y in pool[n_train:] if s not in seen][:n_val]  # new sentences, known phrases
    return train, val, test


def sentiment_dataset(n_train: int = 1024, n_val: int = 100, n_test: int = 200, source: str = "auto", seed: int = 0):
    """``(DatasetDict, description)`` with ``train``, ``validation`` and ``test`` splits of ``sentence``, ``label``.

    ``source="auto"``: SST-2 from the 🤗 hub if it is reachable (its train split gives train and
    validation, its labelled validation split is the test set), else the book's sentences;
    ``"book"``: always the book's. Label 0 = negative, 1 = positive.
    """
    from datasets import ClassLabel, Dataset, DatasetDict, Features, Value

    from .hub import hub_available

    _check_sizes(n_train, n_val, n_test)
    if source not in ("auto", "book"):
        raise ValueError(f"source must be 'auto' (the hub when reachable) or 'book', got {source!r}")
    why = "chosen with source='book'"
    if source == "auto":
        why = "offline fallback: the Hugging Face hub is not reachable"
        if hub_available():
            data, desc = _sst2(n_train, n_val, n_test, seed)
            if data is not None:
                return data, desc
            why = f"fallback: SST-2 could not be loaded from the hub ({desc})"
    features = Features({"sentence": Value("string"), "label": ClassLabel(names=list(SENTIMENT_LABELS))})
    splits = _book_splits(n_train, n_val, n_test, seed)
    data = DatasetDict(
        {
            name: Dataset.from_dict({"sentence": [s for s, _ in part], "label": [y for _, y in part]}, features)
            for name, part in zip(("train", "validation", "test"), splits, strict=True)
        }
    )
    desc = (
        f"dataset: the book's generated review sentences ({_sizes(data)}; the test sentences use subjects "
        f"and phrases that no training sentence contains) ({why})"
    )
    return data, desc


def _sizes(data) -> str:
    return " / ".join(f"{len(data[k])} {k}" for k in ("train", "validation", "test"))


def _sst2(n_train: int, n_val: int, n_test: int, seed: int):
    from datasets import DatasetDict, load_dataset

    try:
        raw = load_dataset(SST2_NAME)
    except Exception as err:  # the hub answers but does not serve the dataset (a mirror, a proxy, an outage)
        return None, type(err).__name__
    if len(raw["train"]) < n_train + n_val:
        raise ValueError(f"SST-2's train split has {len(raw['train'])} sentences, fewer than n_train + n_val")
    pool = raw["train"].shuffle(seed=seed).select(range(n_train + n_val))
    test = raw["validation"].shuffle(seed=seed).select(range(min(n_test, len(raw["validation"]))))
    data = DatasetDict(
        train=pool.select(range(n_train)), validation=pool.select(range(n_train, n_train + n_val)), test=test
    )
    data = data.select_columns(["sentence", "label"])
    desc = f"dataset: SST-2 ({SST2_NAME}) from the Hugging Face hub ({_sizes(data)}; test = SST-2's validation split)"
    return data, desc


def accuracy(logits, labels) -> float:
    """Fraction of rows whose largest logit is at the label. Shapes: logits (N, C), labels (N,)."""
    logits, labels = torch.as_tensor(logits), torch.as_tensor(labels)
    if logits.dim() != 2 or labels.shape != logits.shape[:1]:
        raise ValueError(f"accuracy needs logits (N, C) and labels (N,), got {tuple(logits.shape)} and "
                         f"{tuple(labels.shape)}")  # fmt: skip
    return (logits.argmax(-1) == labels).float().mean().item()


def compute_metrics(eval_pred) -> dict[str, float]:
    """The ``compute_metrics`` of a 🤗 ``Trainer``: ``(logits, labels)`` in, ``{"accuracy": ...}`` out."""
    logits, labels = eval_pred
    return {"accuracy": accuracy(logits, labels)}


def majority_baseline(train_labels: Sequence[int], test_labels: Sequence[int]) -> float:
    """Accuracy of always answering the most frequent training label."""
    if not len(train_labels) or not len(test_labels):
        raise ValueError("majority_baseline needs non-empty training and test labels")
    top = Counter(train_labels).most_common(1)[0][0]
    return sum(y == top for y in test_labels) / len(test_labels)


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z']+", text.lower())


def bow_baseline(train: Sequence[tuple[str, int]], test: Sequence[tuple[str, int]]) -> float:
    """Accuracy of a bag-of-words naive Bayes classifier (add-one smoothing) trained on ``train``."""
    if not train or not test:
        raise ValueError("bow_baseline needs non-empty lists of (sentence, label) pairs")
    labels = sorted({y for _, y in train})
    counts = {y: Counter(w for s, t in train if t == y for w in _words(s)) for y in labels}
    prior = Counter(y for _, y in train)
    vocab = set().union(*counts.values())

    def score(text: str, y: int) -> float:
        total = sum(counts[y].values()) + len(vocab)
        return math.log(prior[y]) + sum(math.log((counts[y][w] + 1) / total) for w in _words(text))

    return sum(max(labels, key=lambda y: score(s, y)) == t for s, t in test) / len(test)


class EncoderClassifier(nn.Module):
    """An encoder, mean pooling over the real tokens and a linear head: logits for ``n_classes``.

    The encoder is a 🤗 model (called with ``input_ids, attention_mask``; ``last_hidden_state`` is read)
    or any module with ``encode(input_ids, attention_mask) -> (B, T, D)`` (the masked LM of chapter 10).
    Shapes: input_ids, attention_mask (B, T) -> logits (B, n_classes).
    """

    def __init__(self, encoder: nn.Module, dim: int, n_classes: int = 2):
        super().__init__()
        self.encoder, self.head = encoder, nn.Linear(dim, n_classes)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        if hasattr(self.encoder, "encode"):
            hidden = self.encoder.encode(input_ids, attention_mask)  # (B, T, D)
        else:
            hidden = self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        return self.head(mean_pool(hidden, attention_mask))  # (B, D) -> (B, C)


def encode_texts(tokenizer, texts: Sequence[str], max_length: int = 64) -> tuple[torch.Tensor, torch.Tensor]:
    """``(input_ids, attention_mask)`` of a 🤗 tokenizer, or of one with ``encode(str) -> ids`` and ``pad_id``.

    Shapes: N texts -> (N, T) and (N, T), T = the longest, at most ``max_length``.
    """
    if isinstance(texts, str) or not texts:
        raise ValueError("encode_texts needs a non-empty list of strings, not a single string")
    from transformers import PreTrainedTokenizerBase

    if isinstance(tokenizer, PreTrainedTokenizerBase):
        batch = tokenizer(list(texts), padding=True, truncation=True, max_length=max_length, return_tensors="pt")
        return batch["input_ids"], batch["attention_mask"]
    ids, pad = [list(tokenizer.encode(t))[:max_length] for t in texts], getattr(tokenizer, "pad_id", 0)
    width = max(len(i) for i in ids)
    input_ids = torch.tensor([i + [pad] * (width - len(i)) for i in ids])  # (N, T)
    mask = torch.tensor([[1] * len(i) + [0] * (width - len(i)) for i in ids])  # (N, T)
    return input_ids, mask


@torch.no_grad()
def evaluate(model: nn.Module, input_ids: torch.Tensor, mask: torch.Tensor, labels: torch.Tensor) -> float:
    """Accuracy of ``model`` on encoded examples, in batches of 128."""
    model.eval()
    device = next(model.parameters()).device
    logits = [
        model(input_ids[i : i + 128].to(device), mask[i : i + 128].to(device)).cpu() for i in range(0, len(labels), 128)
    ]
    return accuracy(torch.cat(logits), labels)


def fit_classifier(
    model: nn.Module, input_ids: torch.Tensor, mask: torch.Tensor, labels: torch.Tensor,
    steps: int, lr: float, batch_size: int = 16, seed: int = 0,
) -> float:  # fmt: skip
    """Train the parameters that require grad: AdamW, warmup then linear decay, shuffled epochs. Returns seconds."""
    if len(input_ids) != len(labels) or len(mask) != len(labels):
        raise ValueError(f"input_ids, mask and labels must have the same length, got {len(input_ids)}, "
                         f"{len(mask)}, {len(labels)}")  # fmt: skip
    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        raise ValueError("no parameter requires grad: unfreeze at least the head before training")
    device, gen = get_device(), torch.Generator().manual_seed(seed)
    model.to(device).train()
    optimizer = torch.optim.AdamW(params, lr=lr, weight_decay=0.01)

    def classify(batch, y):  # train_step's forward: the logits (b, C) and their cross-entropy
        logits = model(*batch)
        return logits, nn.functional.cross_entropy(logits, y)

    order, start = torch.empty(0, dtype=torch.long), time.perf_counter()
    for step in range(steps):
        if len(order) < batch_size:  # a new epoch: all examples once, in a new order
            order = torch.cat([order, torch.randperm(len(labels), generator=gen)])
        idx, order = order[:batch_size], order[batch_size:]
        set_lr(optimizer, lr * min(1.0, (step + 1) / max(1, steps // 10)) * (1 - step / steps))
        batch = (input_ids[idx].to(device), mask[idx].to(device))
        train_step(model, optimizer, batch, labels[idx].to(device), None, use_autocast=False, forward=classify)
    model.eval()
    return time.perf_counter() - start


def learning_curve(
    make_model: Callable[[], nn.Module], train: tuple, test: tuple, sizes: Sequence[int],
    seeds: Sequence[int] = (0,), lr: float = 1e-4, epochs: int = 3, min_steps: int = 40, batch_size: int = 16,
) -> list[dict]:  # fmt: skip
    """Test accuracy after fine-tuning a fresh ``make_model()`` on the first ``n`` of ``train``, per n and seed.

    ``train`` and ``test`` are ``(input_ids, mask, labels)``. Each run takes ``max(min_steps, epochs * n /
    batch_size)`` steps. Returns rows ``{"n", "seed", "accuracy", "seconds"}``.
    """
    if max(sizes) > len(train[2]):
        raise ValueError(f"sizes go up to {max(sizes)} but there are only {len(train[2])} training examples")
    rows = []
    for n in sizes:
        for seed in seeds:
            torch.manual_seed(seed)  # the new head (and a from-scratch encoder) start from this seed
            model = make_model()
            steps = max(min_steps, epochs * n // batch_size)
            seconds = fit_classifier(model, *(t[:n] for t in train), steps, lr, batch_size, seed)
            rows.append({"n": n, "seed": seed, "accuracy": evaluate(model, *test), "seconds": seconds})
    return rows


def trainable_parameters(model: nn.Module) -> tuple[int, int]:
    """``(trainable, total)`` numbers of parameters, tied weights counted once."""
    from .utils import count_parameters

    return count_parameters(model, trainable_only=True), count_parameters(model, trainable_only=False)


def lora_forward(x: torch.Tensor, weight: torch.Tensor, bias, A: torch.Tensor, B: torch.Tensor, alpha: float):
    """A LoRA linear layer: x Wᵀ + b + (α/r) x Aᵀ Bᵀ, i.e. the weight W + (α/r) B A.

    Shapes: x (..., d_in), weight (d_out, d_in), bias (d_out,) or None, A (r, d_in), B (d_out, r) -> (..., d_out).
    """
    r = A.shape[0]
    if A.shape[1] != weight.shape[1] or B.shape != (weight.shape[0], r):
        raise ValueError(f"LoRA needs A (r, d_in) and B (d_out, r) for a weight {tuple(weight.shape)}, got "
                         f"A {tuple(A.shape)} and B {tuple(B.shape)}")  # fmt: skip
    out = nn.functional.linear(x, weight, bias)  # (..., d_out): the frozen layer
    return out + (alpha / r) * (x @ A.T) @ B.T  # the low-rank update, through r numbers per token
