"""Tests of lmtutor.evaluation (chapter 14): WEAT, memorisation, calibration, FLOPs."""

import math

import pytest
import torch

import lmtutor as lt
from lmtutor import evaluation as ev


def _sets(seed=0, n=5, d=8):
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(n, d, generator=g) for _ in range(4)]


def test_weat_association_by_hand():
    w = torch.tensor([[1.0, 0.0]])
    A = torch.tensor([[2.0, 0.0], [0.0, 1.0]])  # cosines 1 and 0
    B = torch.tensor([[-1.0, 0.0]])  # cosine -1
    assert ev.weat_association(w, A, B).item() == pytest.approx(0.5 - (-1.0))


def test_weat_effect_size_matches_formula_and_is_antisymmetric():
    X, Y, A, B = _sets()
    s = ev.weat_association(torch.cat([X, Y]), A, B)
    expected = (s[:5].mean() - s[5:].mean()) / s.std(unbiased=True)
    assert ev.weat_effect_size(X, Y, A, B) == pytest.approx(expected.item())
    assert ev.weat_effect_size(Y, X, A, B) == pytest.approx(-expected.item())
    assert ev.weat_effect_size(X, Y, B, A) == pytest.approx(-expected.item())
    assert abs(ev.weat_effect_size(X, Y, A, B)) <= 2.0 + 1e-9  # |d| is bounded for equal sizes


def test_weat_test_exact_p_value_and_separated_sets():
    A = torch.tensor([[1.0, 0.0]])
    B = torch.tensor([[0.0, 1.0]])
    X = torch.tensor([[1.0, 0.1], [1.0, 0.2], [1.0, 0.3]])  # close to A
    Y = torch.tensor([[0.1, 1.0], [0.2, 1.0], [0.3, 1.0]])  # close to B
    effect, p = ev.weat_test(X, Y, A, B)
    assert effect > 1.5
    assert p == pytest.approx(1 / math.comb(6, 3))  # only the observed split is as extreme
    effect_s, p_s = ev.weat_test(X, Y, A, B, n_permutations=5, seed=1)  # sampled: 20 splits > 5
    assert effect_s == effect and 0 <= p_s <= 1


def test_weat_bad_input():
    X, Y, A, B = _sets()
    with pytest.raises(ValueError, match="same vector width"):
        ev.weat_effect_size(X, Y, A[:, :4], B)
    with pytest.raises(ValueError, match="2-D tensor"):
        ev.weat_effect_size(X[0], Y, A, B)
    with pytest.raises(ValueError, match="at least one row"):
        ev.weat_association(X[:0], A, B)
    with pytest.raises(ValueError, match="at least 3 target words"):
        ev.weat_effect_size(X[:1], Y[:1], A, B)


def test_matching_prefix_length():
    gen = torch.tensor([[1, 2, 3, 4], [1, 9, 3, 4], [0, 2, 3, 4]])
    ref = torch.tensor([[1, 2, 3, 4], [1, 2, 3, 4], [1, 2, 3, 4]])
    assert ev.matching_prefix_length(gen, ref).tolist() == [4, 1, 0]
    with pytest.raises(ValueError, match="same shape"):
        ev.matching_prefix_length(gen[:, :3], ref)


def test_memorisation_of_a_model_that_copies_a_periodic_text():
    lt.set_seed(0)
    model = lt.GPT(lt.GPTConfig(vocab_size=5, block_size=16, n_layer=1, n_head=1, d_model=16))
    data = torch.arange(200) % 5  # 0 1 2 3 4 0 1 ...
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2)
    for _ in range(100):
        x = torch.stack([data[i : i + 16] for i in range(0, 150, 3)])
        y = torch.stack([data[i + 1 : i + 17] for i in range(0, 150, 3)])
        lt.train.train_step(model, opt, x, y)
    result = ev.memorisation(model, data, [0, 7, 50], prefix_len=8, n_new=8)
    assert result["exact"] == 1.0 and result["mean_match"] == 8.0
    assert result["lengths"].tolist() == [8, 8, 8]
    assert model.training  # the caller's mode is restored


def test_memorisation_bad_input():
    model = lt.GPT(lt.GPTConfig(vocab_size=5, block_size=16, n_layer=1, n_head=1, d_model=16))
    data = torch.arange(40) % 5
    with pytest.raises(ValueError, match="1-D tensor"):
        ev.memorisation(model, data[None], [0], 4, 4)
    with pytest.raises(ValueError, match="every start must satisfy"):
        ev.memorisation(model, data, [35], 4, 4)
    with pytest.raises(ValueError, match=">= 1"):
        ev.memorisation(model, data, [0], 0, 4)


def test_reliability_bins_and_ece_by_hand():
    conf = torch.tensor([0.0, 0.15, 0.95, 0.9, 1.0, 0.55])
    correct = torch.tensor([0, 0, 1, 0, 1, 1])
    b = ev.reliability_bins(conf, correct, n_bins=2)  # bins [0, 0.5], (0.5, 1]
    assert b["count"].tolist() == [2, 4]
    assert b["confidence"].tolist() == pytest.approx([0.075, (0.95 + 0.9 + 1.0 + 0.55) / 4])
    assert b["accuracy"].tolist() == pytest.approx([0.0, 0.75])
    expected = 2 / 6 * 0.075 + 4 / 6 * abs(0.75 - 0.85)
    assert ev.expected_calibration_error(conf, correct, n_bins=2) == pytest.approx(expected)
    perfect = torch.tensor([1.0, 1.0]), torch.tensor([1, 1])
    assert ev.expected_calibration_error(*perfect) == 0.0


def test_calibration_bad_input():
    with pytest.raises(ValueError, match="probabilities in"):
        ev.expected_calibration_error(torch.tensor([1.5]), torch.tensor([1]))
    with pytest.raises(ValueError, match="same non-zero length"):
        ev.expected_calibration_error(torch.tensor([0.5, 0.5]), torch.tensor([1]))
    with pytest.raises(ValueError, match="n_bins"):
        ev.reliability_bins(torch.tensor([0.5]), torch.tensor([1]), n_bins=0)


def test_flops_and_gpu_days():
    assert ev.training_flops(175e9, 300e9) == pytest.approx(3.15e23)
    assert ev.gpu_days(86_400e15, 1e12, 0.5) == pytest.approx(2000.0)
    with pytest.raises(ValueError, match="utilisation"):
        ev.gpu_days(1e20, 312e12, 40)
    with pytest.raises(ValueError, match="n_params and n_tokens"):
        ev.training_flops(0, 1e9)
