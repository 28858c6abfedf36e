"""Scaling-law helpers (chapter 15): power-law fits, the compute frontier, parameter counts, committed sweeps."""

from __future__ import annotations

import numpy as np
import pytest

import lmtutor as lt
from lmtutor.scaling import fit_power_law, frontier, load_result, non_embedding_parameters, power_law


def test_fit_recovers_a_known_power_law_with_and_without_offset():
    n = np.geomspace(1e4, 1e7, 8)
    plain = fit_power_law(n, 5 * n**-0.3)
    assert plain["a"] == pytest.approx(5, rel=1e-9) and plain["alpha"] == pytest.approx(0.3, rel=1e-9)
    assert plain["E"] == 0 and plain["r2"] == pytest.approx(1.0)
    shifted = fit_power_law(n, 1.7 + 40 * n**-0.4, offset=True)
    assert shifted["E"] == pytest.approx(1.7, abs=2e-3) and shifted["alpha"] == pytest.approx(0.4, abs=0.01)
    assert np.allclose(power_law(n, shifted), 1.7 + 40 * n**-0.4, rtol=1e-3)
    assert fit_power_law(n, 1.7 + 40 * n**-0.4)["r2"] < shifted["r2"]  # the offset is needed here


@pytest.mark.parametrize(
    ("x", "y", "message"),
    [
        ([1, 2], [3, 2], "at least 3 positive"),
        ([1, 2, -3], [3, 2, 1], "at least 3 positive"),
        ([1, 2, 3], [3, float("nan"), 1], "at least 3 positive"),
        ([2, 2, 2], [3, 2, 1], "all equal"),
        ([1, 2, 3, 4], [3, 2, 1], "same length"),
    ],
)
def test_fit_refuses_data_it_cannot_fit(x, y, message):
    with pytest.raises(ValueError, match=message):
        fit_power_law(x, y)


def test_frontier_is_the_lowest_loss_reached_by_each_compute():
    small = ([1.0, 10.0, 100.0], [3.0, 2.0, 1.8])  # cheap, flattens early
    large = ([10.0, 100.0, 1000.0], [3.5, 1.9, 1.2])  # starts later, ends lower
    c, loss = frontier([small, large], n_points=4)  # grid 1, 10, 100, 1000
    assert np.allclose(c, [1, 10, 100, 1000])
    assert loss.tolist() == [3.0, 2.0, 1.8, 1.2]
    with pytest.raises(ValueError, match="at least one"):
        frontier([])


def test_non_embedding_parameters_leave_out_the_tables_and_the_tied_head():
    gpt = lt.GPT(lt.GPTConfig.preset("nano", vocab_size=65))
    tables = gpt.tok_emb.weight.numel() + gpt.pos_emb.weight.numel()
    assert non_embedding_parameters(gpt) == lt.count_parameters(gpt) - tables
    untied = lt.GPT(lt.GPTConfig.preset("nano", vocab_size=65, tie_weights=False, pos_encoding="rope"))
    assert non_embedding_parameters(untied) == lt.count_parameters(untied) - untied.tok_emb.weight.numel()


def test_committed_sweeps_load_and_hold_what_the_chapter_draws():
    sweep = load_result("scaling")
    assert len(sweep["runs"]) >= 4 and sweep["frontier_fit"]["alpha"] > 0
    computes = [r["compute"] for r in sweep["runs"]]
    assert max(computes) / min(computes) < 1.2  # equal compute for every size (up to rounding of steps)
    ablation = load_result("modern")
    assert {"GPT-2 block", "all four"} <= set(ablation["variants"])
    assert all(len(v["val_loss"]) == ablation["settings"]["repeats"] for v in ablation["variants"].values())
    with pytest.raises(FileNotFoundError, match="known: .*scaling"):
        load_result("scalling")
