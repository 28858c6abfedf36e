"""lmtutor: the helper package of the book *How large language models work*.

Topic modules (each names the chapter that introduces it): ``device``, ``utils``, ``data``,
``attention``, ``embeddings``, ``positional``, ``transformer``, ``decoding``, ``train``, ``callbacks``,
``viz``, ``hf``, ``hub``, ``tasks``, ``exercises``; ``distributed`` and ``scaling`` (chapter 15). The
most used names are re-exported here, so a notebook starts with ``import lmtutor as lt``.
"""

# Topic modules, reachable as lt.viz, lt.train, lt.recipes, ...
from . import (  # noqa: F401
    attention,
    callbacks,
    checkpoint,
    config,
    data,
    decoding,
    device,
    distributed,
    embeddings,
    evaluation,
    finetune,
    hf,
    hub,
    mlm,
    ngram,
    offline,
    positional,
    pretrained,
    recipes,
    recurrent,
    scaling,
    seq2seq,
    synthetic,
    tasks,
    tokenization,
    train,
    transformer,
    utils,
    viz,
)
from .attention import MultiHeadAttention, causal_mask, padding_mask, scaled_dot_product_attention
from .data import CharTokenizer, get_batch, load_shakespeare, train_val_split
from .device import autocast, describe_device, get_device
from .exercises import check
from .transformer import GPT, GPTConfig
from .utils import count_parameters, is_fast, pick, set_seed

__version__ = "0.1.0"

__all__ = [
    "GPT",
    "GPTConfig",
    "CharTokenizer",
    "MultiHeadAttention",
    "autocast",
    "causal_mask",
    "check",
    "count_parameters",
    "describe_device",
    "get_batch",
    "get_device",
    "is_fast",
    "load_shakespeare",
    "padding_mask",
    "pick",
    "scaled_dot_product_attention",
    "set_seed",
    "train_val_split",
]
