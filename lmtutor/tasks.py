"""Which model each task of chapter 13 loads: the hub's, the local 🤗 cache's or the book's own.

``resolve(task)`` answers one question fast: where should ``from_pretrained`` load this task's
model from? Online it is the hub model the sources name (``"gpt2"``, ``"t5-small"``, ...);
with the hub unreachable it is that model's folder in the local 🤗 cache if it is there, else a
checkpoint of the same architecture that the book builds itself (``lmtutor.offline``).
``load(task)`` then loads it with the task's 🤗 class. The hub probe and the cache lookups are in
``lmtutor.hub``; MiniLM (chapters 3, 6, 12) in ``lmtutor.pretrained``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from . import hub, offline
from .utils import did_you_mean

__all__ = ["HubTask", "Resolved", "TASKS", "resolve", "load"]


@dataclass(frozen=True)
class HubTask:
    """A task of the chapter: the hub model readers load online and the book's offline stand-in."""

    hub_name: str  # repository id on the hub, as the sources write it
    model_class: str  # the 🤗 class that loads both checkpoints
    offline_name: str  # name of the builder in lmtutor.offline.BUILDERS
    hub_examples: tuple[str, ...]  # inputs that suit the hub model


TASKS: dict[str, HubTask] = {
    "text-generation": HubTask("gpt2", "GPT2LMHeadModel", "shakespeare-gpt2", ("Hello, how are you?",)),
    "translation": HubTask(
        "t5-small", "T5ForConditionalGeneration", "t5-tasks", ("translate English to French: Hello, how are you?",)
    ),
    "translation-marian": HubTask(
        "Helsinki-NLP/opus-mt-en-fr", "MarianMTModel", "marian-dates", ("This is an example sentence.",)
    ),
    "summarization": HubTask(
        "t5-small",
        "T5ForConditionalGeneration",
        "t5-tasks",
        (
            "summarize: The city council met on Tuesday evening and, after a long debate about traffic and "
            "parking, voted to close the old bridge to cars from next spring while keeping it open to bicycles.",
        ),
    ),
    "question-answering": HubTask(
        "distilbert-base-cased-distilled-squad", "AutoModelForQuestionAnswering", "minilm-qa", ()
    ),
    "sentiment-analysis": HubTask(
        "distilbert-base-uncased-finetuned-sst-2-english", "AutoModelForSequenceClassification", "minilm-sentiment", ()
    ),
}


@dataclass
class Resolved:
    """Where to load a task's model from, and a truthful sentence saying what it is."""

    task: str
    source: str  # "hub", "cache" (local 🤗 cache) or "book" (the book's own checkpoint)
    path: str  # give this to from_pretrained: a hub id or a local folder
    description: str
    examples: list[str] = field(default_factory=list)  # inputs that suit this model
    metrics: dict = field(default_factory=dict)  # held-out quality of a book checkpoint

    def __str__(self) -> str:
        return self.description


def _task(task: str) -> HubTask:
    if task not in TASKS:
        raise ValueError(f"unknown task {task!r}.{did_you_mean(task, TASKS)} Choose one of: {', '.join(TASKS)}.")
    return TASKS[task]


def resolve(task: str, source: str = "auto") -> Resolved:
    """Where ``from_pretrained`` should load ``task``'s model from: the hub, the local cache or the book's checkpoint.

    ``source="auto"`` picks the hub when it is reachable; ``"book"`` always uses the book's checkpoint.
    """
    spec = _task(task)
    if source not in ("auto", "book"):
        raise ValueError(f"source must be 'auto' or 'book', got {source!r}")
    if source == "auto":
        if hub.hub_available():
            desc = f"model: {spec.hub_name} from the Hugging Face hub"
            return Resolved(task, "hub", spec.hub_name, desc, list(spec.hub_examples))
        folder = hub.cached_snapshot(spec.hub_name)
        if folder is not None:
            desc = f"model: {spec.hub_name} from the local Hugging Face cache (the hub is not reachable)"
            return Resolved(task, "cache", folder, desc, list(spec.hub_examples))
    built = offline.build(spec.offline_name)
    why = "offline fallback" if source == "auto" else "chosen with source='book'"
    desc = f"model: {built.description} ({why}; {built.quality()})"
    return Resolved(task, "book", str(built.path), desc, list(built.examples), dict(built.metrics))


def load(task: str, source: str = "auto"):
    """``(model, tokenizer, resolved)`` for ``task``, loaded with the task's 🤗 class and ``AutoTokenizer``."""
    import transformers

    where = resolve(task, source)
    model_class = getattr(transformers, _task(task).model_class)
    tokenizer = transformers.AutoTokenizer.from_pretrained(where.path)
    model = model_class.from_pretrained(where.path)
    return model.eval(), tokenizer, where
