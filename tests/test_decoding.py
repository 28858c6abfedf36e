"""lmtutor.decoding against 🤗 Transformers: the same filtered distributions and the same tokens (chapter 11)."""

import pytest
import torch

from lmtutor import decoding as D
from lmtutor.hf import to_hf_gpt2
from lmtutor.transformer import GPT, GPTConfig

transformers = pytest.importorskip("transformers")
lp = transformers.generation.logits_process


def _logits(b=3, v=40, seed=0):
    return 3 * torch.randn(b, v, generator=torch.Generator().manual_seed(seed))


@pytest.fixture(scope="module")
def models():
    torch.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=30, block_size=32, n_layer=2, n_head=2, d_model=32)).eval()
    with torch.no_grad():  # spread the logits out, as after training, so that beams do not tie
        model.tok_emb.weight.mul_(20)
    hf = to_hf_gpt2(model)
    for config in (hf.config, hf.generation_config):
        config.bos_token_id = config.eos_token_id = config.pad_token_id = None
    return model, hf


@pytest.mark.parametrize("k", [1, 5, 40, 100])
def test_top_k_equals_hf(k):
    x = _logits()
    assert torch.equal(D.filter_logits(x, top_k=k), lp.TopKLogitsWarper(k)(None, x))


@pytest.mark.parametrize("p", [0.05, 0.3, 0.5, 0.9, 0.99, 1.0])
def test_top_p_equals_hf(p):
    for seed in range(5):
        x = _logits(seed=seed)
        assert torch.equal(D.filter_logits(x, top_p=p), lp.TopPLogitsWarper(p)(None, x)), (p, seed)


def test_top_p_keeps_the_token_that_crosses_p():
    x = torch.tensor([[0.5, 0.3, 0.2]]).log()
    kept = D.filter_logits(x, top_p=0.6).isfinite()  # 0.5 < 0.6, so 0.3 crosses it and stays
    assert kept.tolist() == [[True, True, False]]


@pytest.mark.parametrize("penalty", [0.7, 1.0, 1.3, 2.0])
def test_repetition_penalty_equals_hf(penalty):
    x, idx = _logits(), torch.randint(40, (3, 12), generator=torch.Generator().manual_seed(1))
    ours = D.repetition_penalty(x, idx, penalty)
    assert torch.equal(ours, lp.RepetitionPenaltyLogitsProcessor(penalty)(idx, x.clone()))


def test_process_logits_equals_hf_chain():
    x, idx = _logits(), torch.randint(40, (3, 12), generator=torch.Generator().manual_seed(2))
    chain = [
        lp.RepetitionPenaltyLogitsProcessor(1.2),
        lp.TemperatureLogitsWarper(0.8),
        lp.TopKLogitsWarper(10),
        lp.TopPLogitsWarper(0.9),
    ]
    theirs = x.clone()
    for proc in chain:
        theirs = proc(idx, theirs)
    ours = D.process_logits(x, idx, temperature=0.8, top_k=10, top_p=0.9, penalty=1.2)
    assert torch.equal(ours.isinf(), theirs.isinf())
    assert torch.allclose(ours.softmax(-1), theirs.softmax(-1), atol=1e-6)


def test_greedy_and_penalised_greedy_equal_hf(models):
    model, hf = models
    idx = torch.tensor([[1, 2, 3, 4]])
    assert torch.equal(model.generate(idx, 20, do_sample=False), hf.generate(idx, max_new_tokens=20, do_sample=False))
    ours = idx
    for _ in range(20):
        ours = torch.cat([ours, D.next_token(model(ours)[0][:, -1], do_sample=False, idx=ours, penalty=1.5)], 1)
    theirs = hf.generate(idx, max_new_tokens=20, do_sample=False, repetition_penalty=1.5)
    assert torch.equal(ours, theirs)


@pytest.mark.parametrize("num_beams", [1, 2, 4])
def test_beam_search_equals_hf(models, num_beams):
    model, hf = models
    idx = torch.tensor([[5, 6, 7]])
    seqs, scores = D.beam_search(model, idx, 12, num_beams)
    out = hf.generate(
        idx,
        max_new_tokens=12,
        num_beams=num_beams,
        num_return_sequences=num_beams,
        do_sample=False,
        output_scores=True,
        return_dict_in_generate=True,
    )
    assert seqs.shape == (num_beams, 15)
    assert torch.equal(seqs, out.sequences)
    if num_beams > 1:  # 🤗 reports the sum of log-probabilities divided by the number of new tokens
        assert torch.allclose(scores / 12, out.sequences_scores, atol=1e-4)


def test_beam_step_picks_the_best_pairs():
    scores, beam, token = D.beam_step(torch.tensor([0.0, -5.0]), torch.tensor([[-1.0, -2.0, -3.0], [-0.1, -9, -9]]), 2)
    assert scores.tolist() == [-1.0, -2.0] and beam.tolist() == [0, 0] and token.tolist() == [0, 1]


def test_sampling_draws_from_the_processed_distribution():
    x = _logits(1, 6)
    g = torch.Generator().manual_seed(0)
    draws = torch.cat([D.next_token(x, 1.0, top_k=2, generator=g) for _ in range(300)])
    assert set(draws.flatten().tolist()) <= set(x.topk(2).indices.flatten().tolist())


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: D.filter_logits(_logits(), top_k=0), "top_k must be an int >= 1"),
        (lambda: D.filter_logits(_logits(), top_k=2.5), "top_k must be an int >= 1"),
        (lambda: D.filter_logits(_logits(), top_p=0.0), r"top_p must be in \(0, 1\]"),
        (lambda: D.filter_logits(_logits(), top_p=1.2), r"top_p must be in \(0, 1\]"),
        (lambda: D.filter_logits(torch.zeros(5), top_k=2), r"logits\[None\]"),
        (lambda: D.filter_logits(torch.zeros(2, 5, dtype=torch.long)), "floating-point"),
        (lambda: D.repetition_penalty(_logits(), torch.zeros(3, 2, dtype=torch.long), 0.0), "penalty must be > 0"),
        (lambda: D.repetition_penalty(_logits(), torch.zeros(2, 2, dtype=torch.long), 1.2), "idx must have shape"),
        (lambda: D.process_logits(_logits(), temperature=0.0), "do_sample=False"),
        (lambda: D.process_logits(_logits(), penalty=1.2), "pass idx"),
        (lambda: D.beam_step(torch.zeros(2), torch.zeros(2, 5), 0), "num_beams must be >= 1"),
        (lambda: D.beam_step(torch.zeros(3), torch.zeros(2, 5), 2), "one score per beam"),
        (lambda: D.beam_search(None, torch.zeros(2, 3, dtype=torch.long), 4, 2), r"shape \(1, T\)"),
        (lambda: D.beam_search(None, torch.zeros(1, 3, dtype=torch.long), 4, 0), "num_beams must be >= 1"),
        (lambda: D.plot_next_token(torch.zeros(4), ["a", "b"]), "V labels"),
    ],
)
def test_bad_input_messages(call, match):
    with pytest.raises((ValueError, TypeError), match=match):
        call()
