"""Each exercise's reference equals the lmtutor function it mirrors, on every case the exercise checks.

The exercises keep their own short reference (the answer a learner writes); the package keeps the
version the chapters reuse. These tests stop the two from drifting apart.
"""

import math

import pytest
import torch
import torch.nn.functional as F

import lmtutor as lt
from lmtutor import decoding, embeddings, positional, recurrent, seq2seq, tokenization
from lmtutor.exercises import get
from lmtutor.offline.encoders import best_span


def _rope(x, position, base=10000.0):  # lmtutor's RotaryEmbedding at one position, for one vector
    rope = positional.RotaryEmbedding(x.shape[-1], max_len=position + 1, base=base)
    return rope(x.reshape(1, 1, 1, -1), offset=position).reshape(x.shape)


def _lr_schedule(max_steps, warmup_steps, max_lr, min_lr):
    cfg = lt.train.TrainConfig(max_steps=max_steps, warmup_steps=warmup_steps, lr=max_lr, min_lr=min_lr)
    return [lt.train.lr_at(step, cfg) for step in range(max_steps + 1)]  # the exercise lists the last step too


def _split_heads(x, n_head):
    return lt.MultiHeadAttention(x.shape[-1], n_head)._split_heads(x)


def _answer_span(start_logits, end_logits, context_mask, max_answer_len=30):
    return tuple(int(i) for i in best_span(start_logits, end_logits, context_mask, max_answer_len))


# exercise name -> the package function, called with the exercise's case arguments
MIRRORS = {
    "positional.sinusoidal_table": positional.sinusoidal_encoding,
    "positional.rope_rotate": _rope,
    "training.lr_schedule": _lr_schedule,
    "training.cross_entropy": F.cross_entropy,
    "embeddings.one_hot_lookup": embeddings.one_hot_embed,
    "embeddings.skipgram_pairs": embeddings.skipgram_pairs,
    "embeddings.sgns_loss": embeddings.sgns_loss,
    "attention.scaled_dot_product": lt.scaled_dot_product_attention,
    "multihead.split_heads": _split_heads,
    "transformer.decoder_mask": seq2seq.decoder_self_mask,
    "recurrent.rnn_step": recurrent.rnn_step,
    "recurrent.lstm_step": recurrent.lstm_step,
    "recurrent.tbptt_batches": recurrent.tbptt_batches,
    "decoding.repetition_penalty": decoding.repetition_penalty,
    "decoding.beam_step": decoding.beam_step,
    "tokens.pair_counts": tokenization.pair_counts,
    "applications.answer_span": _answer_span,
}


def _same(a, b) -> bool:
    if isinstance(a, torch.Tensor) or isinstance(b, torch.Tensor):
        a, b = torch.as_tensor(a), torch.as_tensor(b)
        return a.shape == b.shape and torch.allclose(a.double(), b.double(), atol=1e-6, rtol=1e-5, equal_nan=True)
    if isinstance(a, (tuple, list)) and isinstance(b, (tuple, list)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float) or isinstance(b, float):
        return math.isclose(float(a), float(b), rel_tol=1e-6, abs_tol=1e-9)
    return a == b


@pytest.mark.parametrize("name", sorted(MIRRORS))
def test_reference_equals_the_package_function(name):
    exercise = get(name)
    cases = exercise.get_cases()
    assert cases, f"{name} has no cases"
    for case in cases:
        ours = exercise.reference(*case.args, **case.kwargs)
        package = MIRRORS[name](*case.args, **case.kwargs)
        assert _same(ours, package), f"{name}, case {case.label!r}: the exercise and the package disagree"
