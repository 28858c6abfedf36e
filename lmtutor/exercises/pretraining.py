"""Exercises of chapter 10 (pretraining objectives): 80/10/10 masking, the three families' masks, span corruption."""

from __future__ import annotations

import torch

from .core import Case, Exercise, Mistake, register

__all__ = ["mask_80_10_10", "family_masks", "span_corruption"]

IGNORE = -100
SENTINELS = list(range(100, 110))  # like T5's <extra_id_0>, <extra_id_1>, ... (ids 100-109 here)


def _gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


# 10.1 BERT's masking rule, with the random draws given so the answer is deterministic


def _mask(ids, u, v, rand_ids, mask_id, p=0.15, special_ids=()):
    special = torch.isin(ids, torch.tensor(list(special_ids), dtype=ids.dtype))
    selected = (u < p) & ~special  # which tokens the loss is computed on
    labels = torch.where(selected, ids, IGNORE)
    inputs = torch.where(selected & (v < 0.8), mask_id, ids)  # 80 %: [MASK]
    inputs = torch.where(selected & (v >= 0.8) & (v < 0.9), rand_ids, inputs)  # 10 %: random; 10 %: kept
    return inputs, labels


def _mask_labels_zero(ids, u, v, rand_ids, mask_id, p=0.15, special_ids=()):
    inputs, labels = _mask(ids, u, v, rand_ids, mask_id, p, special_ids)
    return inputs, torch.where(labels == IGNORE, 0, labels)


def _mask_all_masked(ids, u, v, rand_ids, mask_id, p=0.15, special_ids=()):
    special = torch.isin(ids, torch.tensor(list(special_ids), dtype=ids.dtype))
    selected = (u < p) & ~special
    return torch.where(selected, mask_id, ids), torch.where(selected, ids, IGNORE)


def _mask_specials(ids, u, v, rand_ids, mask_id, p=0.15, special_ids=()):
    return _mask(ids, u, v, rand_ids, mask_id, p, ())


def _mask_labels_inputs(ids, u, v, rand_ids, mask_id, p=0.15, special_ids=()):
    inputs, labels = _mask(ids, u, v, rand_ids, mask_id, p, special_ids)
    return inputs, torch.where(labels == IGNORE, IGNORE, inputs)


def _mask_cases() -> list[Case]:
    def case(label, B, T, seed, p=0.15, specials=(0, 2)):
        g = _gen(seed)
        ids = torch.randint(3, 50, (B, T), generator=g)
        ids[:, 0] = 2  # [CLS]
        ids[:, -1] = 0  # [PAD]
        u, v = torch.rand(B, T, generator=g), torch.rand(B, T, generator=g)
        rand_ids = torch.randint(50, (B, T), generator=g)
        return Case(label, (ids, u, v, rand_ids, 1), {"p": p, "special_ids": specials})

    return [
        case("a batch of 4 x 32 tokens, p = 0.15", 4, 32, 1),
        case("p = 0.5: many tokens selected", 2, 40, 2, p=0.5),
        case("p = 1.0: every non-special token selected", 2, 16, 3, p=1.0),
        case("p = 0: nothing selected", 1, 8, 4, p=0.0),
    ]


mask_80_10_10 = register(
    Exercise(
        name="pretraining.mask_80_10_10",
        title="Exercise 10.1: BERT's 80/10/10 masking",
        reference=_mask,
        cases=_mask_cases,
        mistakes=[
            Mistake(
                _mask_labels_zero,
                "Positions that were not selected must carry the label -100 (the ignore index), not 0: "
                "0 is a real token id, so the loss would train the model to predict it everywhere.",
            ),
            Mistake(
                _mask_all_masked,
                "Not every selected token becomes [MASK]: split the selected ones by v into three groups "
                "(80 % [MASK], 10 % a random id, 10 % unchanged).",
            ),
            Mistake(
                _mask_specials,
                "Special tokens ([CLS], [PAD], ...) must never be selected, whatever their u: exclude the ids in "
                "special_ids before choosing.",
            ),
            Mistake(
                _mask_labels_inputs,
                "The labels are the original ids, before any replacement; you labelled the corrupted inputs.",
            ),
        ],
    )
)


# 10.2 the attention masks of the three families (True = may attend)


def _family_masks(src_len, tgt_len, src_pad=0):
    real = torch.arange(src_len) < src_len - src_pad  # (S,) False on padding
    encoder = real[None, :].expand(src_len, src_len).clone()  # (S, S) bidirectional, padding hidden
    decoder = torch.ones(tgt_len, tgt_len, dtype=torch.bool).tril()  # (T, T) causal
    cross = real[None, :].expand(tgt_len, src_len).clone()  # (T, S) every target sees every real source token
    return encoder, decoder, cross


def _fm_triu(src_len, tgt_len, src_pad=0):
    enc, dec, cross = _family_masks(src_len, tgt_len, src_pad)
    return enc, dec.T.contiguous(), cross


def _fm_causal_encoder(src_len, tgt_len, src_pad=0):
    enc, dec, cross = _family_masks(src_len, tgt_len, src_pad)
    return enc & torch.ones_like(enc).tril(), dec, cross


def _fm_cross_transposed(src_len, tgt_len, src_pad=0):
    enc, dec, _ = _family_masks(src_len, tgt_len, src_pad)
    real = torch.arange(src_len) < src_len - src_pad
    return enc, dec, real[:, None].expand(src_len, tgt_len).clone()


def _fm_no_padding(src_len, tgt_len, src_pad=0):
    return _family_masks(src_len, tgt_len, 0)


family_masks = register(
    Exercise(
        name="pretraining.family_masks",
        title="Exercise 10.2: the attention masks of the three families",
        reference=_family_masks,
        cases=[
            Case("source 4, target 3, no padding", (4, 3)),
            Case("source 5 with 2 padding tokens, target 4", (5, 4), {"src_pad": 2}),
            Case("source 3, target 6 (target longer)", (3, 6), {"src_pad": 1}),
            Case("one token each", (1, 1)),
        ],
        mistakes=[
            Mistake(
                _fm_triu,
                "In the decoder, query i may attend to keys 0..i (its past), not to i..T-1: the True entries "
                "belong on and below the diagonal.",
            ),
            Mistake(
                _fm_causal_encoder,
                "The encoder is bidirectional: every source token sees every real source token, before and after.",
            ),
            Mistake(
                _fm_cross_transposed,
                "Cross-attention's queries come from the target and its keys from the source: its shape is "
                "(tgt_len, src_len), rows = target positions.",
            ),
            Mistake(
                _fm_no_padding,
                "Padding tokens must be hidden as keys: the last src_pad source positions get False in every "
                "column that attends to the source (encoder and cross).",
            ),
        ],
    )
)


# 10.3 T5 span corruption with sentinels


def _span(ids, noise, sentinels):
    inputs, targets, k = [], [], 0
    for i, (tok, m) in enumerate(zip(ids, noise, strict=True)):
        if m and (i == 0 or not noise[i - 1]):  # a new span: one sentinel stands for all of it
            inputs.append(sentinels[k])
            targets.append(sentinels[k])
            k += 1
        (targets if m else inputs).append(tok)
    return inputs, targets + [sentinels[k]]


def _span_per_token(ids, noise, sentinels):
    inputs, targets, k = [], [], 0
    for tok, m in zip(ids, noise, strict=True):
        if m:
            inputs.append(sentinels[k])
            targets += [sentinels[k], tok]
            k += 1
        else:
            inputs.append(tok)
    return inputs, targets + [sentinels[k]]


def _span_no_final(ids, noise, sentinels):
    inputs, targets = _span(ids, noise, sentinels)
    return inputs, targets[:-1]


def _span_one_sentinel(ids, noise, sentinels):
    return _span(ids, noise, [sentinels[0]] * len(sentinels))


def _span_no_target_sentinels(ids, noise, sentinels):
    inputs, targets = _span(ids, noise, sentinels)
    return inputs, [t for t in targets if t not in sentinels]


span_corruption = register(
    Exercise(
        name="pretraining.span_corruption",
        title="Exercise 10.3: T5 span corruption",
        reference=_span,
        cases=[
            Case("two spans", ([1, 2, 3, 4, 5, 6], [0, 1, 1, 0, 1, 0], SENTINELS)),
            Case("a span at the start and one at the end", ([7, 8, 9, 10], [1, 0, 0, 1], SENTINELS)),
            Case("no noise at all", ([1, 2, 3], [0, 0, 0], SENTINELS)),
            Case("one long span", ([5, 6, 7, 8, 9], [0, 1, 1, 1, 0], SENTINELS[:2])),
        ],
        mistakes=[
            Mistake(
                _span_per_token,
                "One sentinel replaces a whole run of consecutive noise tokens (a span), not each noise token.",
            ),
            Mistake(
                _span_no_final,
                "The target ends with one more sentinel after the last span (it tells the decoder that "
                "nothing follows).",
            ),
            Mistake(
                _span_one_sentinel,
                "Each span gets its own sentinel, in order (<extra_id_0>, <extra_id_1>, ...): the target must "
                "say which gap each piece fills.",
            ),
            Mistake(
                _span_no_target_sentinels,
                "The target is not just the removed tokens: put each span's sentinel before its tokens.",
            ),
        ],
    )
)
