"""Word embeddings (chapter 3): tokenization, one-hot lookup, skip-gram pairs and loss, training, neighbours, PCA."""

import math

import matplotlib.pyplot as plt
import pytest
import torch
import torch.nn.functional as F

from lmtutor import embeddings as E
from lmtutor.viz import embeddings as V


def test_tokenize_words_lowercases_keeps_apostrophes_and_drops_speakers():
    text = "First Citizen:\nBefore we proceed, hear me O'er.\n\nKING RICHARD III:\nThe king's son!"
    assert E.tokenize_words(text) == ["before", "we", "proceed", "hear", "me", "o'er", "the", "king's", "son"]
    assert E.tokenize_words(text, drop_speakers=False)[:2] == ["first", "citizen"]


def test_vocab_orders_by_frequency_and_encodes_known_words():
    vocab = E.WordVocab.from_words("a b a c a b d".split(), max_size=3)
    assert vocab.words == ["a", "b", "c"] and vocab.counts.tolist() == [3.0, 2.0, 1.0]
    assert vocab.encode("d a c zzz b".split()).tolist() == [0, 2, 1]  # unknown words dropped
    assert "a" in vocab and "d" not in vocab
    with pytest.raises(KeyError, match="not among the 3 vocabulary words"):
        vocab.id("d")


def test_one_hot_times_matrix_is_the_embedding_lookup():
    emb = torch.nn.Embedding(11, 4)
    ids = torch.tensor([[3, 0, 10], [3, 3, 7]])
    out = E.one_hot_embed(ids, emb.weight)
    assert out.shape == (2, 3, 4)
    assert torch.allclose(out, emb(ids), atol=1e-6)
    # the seed's orientation e = W x holds for the transposed (D, V) matrix and a one-hot column
    x = F.one_hot(torch.tensor(7), 11).float()
    assert torch.allclose(emb.weight.T @ x, emb.weight[7], atol=1e-6)


def test_skipgram_pairs_match_a_plain_loop():
    ids = torch.tensor([5, 6, 7, 8, 9])
    for window in (1, 2, 6):
        expected = [
            (int(ids[i]), int(ids[j]))
            for i in range(len(ids))
            for j in range(i - window, i + window + 1)
            if j != i and 0 <= j < len(ids)
        ]
        centers, contexts = E.skipgram_pairs(ids, window)
        assert list(zip(centers.tolist(), contexts.tolist(), strict=True)) == expected
    c, x = E.skipgram_pairs(torch.tensor([4]), 3)
    assert c.numel() == 0 and x.numel() == 0  # one word has no context


def test_sgns_loss_matches_the_formula_and_prefers_aligned_vectors():
    v, u, negs = torch.tensor([[1.0, 0.0]]), torch.tensor([[2.0, 0.0]]), torch.tensor([[[0.0, 1.0], [-1.0, 0.0]]])
    sig = lambda z: 1 / (1 + math.exp(-z))  # noqa: E731
    expected = -(math.log(sig(2.0)) + math.log(sig(0.0)) + math.log(sig(1.0)))
    assert E.sgns_loss(v, u, negs).item() == pytest.approx(expected, rel=1e-6)
    assert E.sgns_loss(v, u, negs) < E.sgns_loss(v, -u, negs)  # context aligned with center: lower loss


def test_word2vec_loss_decreases_and_learns_cooccurrence():
    torch.manual_seed(0)
    # two "topics" whose words only co-occur within their own topic
    a, b = torch.randint(0, 5, (3000,)), torch.randint(5, 10, (3000,))
    ids = torch.stack([a.view(-1, 30), b.view(-1, 30)], 1).flatten()  # alternate blocks of 30 words
    counts = torch.bincount(ids, minlength=10).float()
    cfg = E.Word2VecConfig(dim=8, window=2, batch_size=256, steps=300, lr=0.03, seed=1)
    model, hist = E.train_word2vec(ids, counts, cfg)
    first, last = sum(hist["loss"][:20]) / 20, sum(hist["loss"][-20:]) / 20
    assert last < first - 0.5, (first, last)
    sims = E.cosine_similarity(model.vectors, model.vectors)  # (10, 10)
    same = (sims[:5, :5].sum() - 5 + sims[5:, 5:].sum() - 5) / 40
    assert same > sims[:5, 5:].mean() + 0.3


def test_training_is_reproducible_with_a_seed():
    ids = torch.randint(0, 20, (500,), generator=torch.Generator().manual_seed(0))
    counts = torch.bincount(ids, minlength=20).float()
    cfg = E.Word2VecConfig(dim=4, batch_size=64, steps=20, subsample=0.05, seed=3)
    threads = torch.get_num_threads()
    m1, _ = E.train_word2vec(ids, counts, cfg)
    m2, _ = E.train_word2vec(ids, counts, cfg)
    assert torch.equal(m1.vectors, m2.vectors)
    assert torch.get_num_threads() == threads  # the one-thread setting is restored after training


def test_subsample_drops_frequent_words_more_often():
    ids = torch.cat([torch.zeros(9000, dtype=torch.long), torch.ones(1000, dtype=torch.long)])
    counts = torch.tensor([9000.0, 1000.0])
    kept = E.subsample(ids, counts, threshold=0.05, generator=torch.Generator().manual_seed(0))
    frac0, frac1 = (kept == 0).sum() / 9000, (kept == 1).sum() / 1000
    assert abs(frac0 - math.sqrt(0.05 / 0.9)) < 0.03 and abs(frac1 - math.sqrt(0.05 / 0.1)) < 0.05


def test_cosine_and_neighbours():
    vecs = torch.tensor([[1.0, 0.0], [10.0, 1.0], [0.0, 1.0], [-1.0, 0.0]])
    sims = E.cosine_similarity(vecs, vecs)
    assert sims.shape == (4, 4) and torch.allclose(sims.diagonal(), torch.ones(4))
    idx, s = E.nearest_neighbours(vecs[0], vecs, k=2, exclude=[0])
    assert idx.tolist() == [1, 2] and s[0] == pytest.approx(10 / math.sqrt(101))  # scale does not matter
    vocab = E.WordVocab(["east", "eastish", "north", "west"], [4, 3, 2, 1])
    assert [w for w, _ in E.most_similar("east", vecs, vocab, k=3)] == ["eastish", "north", "west"]


def test_pca_recovers_the_main_direction_and_projects_new_points():
    torch.manual_seed(0)
    direction = F.normalize(torch.tensor([3.0, 4.0, 0.0]), dim=0)
    x = torch.randn(200, 1) * 5 * direction + 0.1 * torch.randn(200, 3) + 7
    mean, comps = E.fit_pca(x, 2)
    assert comps.shape == (2, 3) and torch.allclose(comps @ comps.T, torch.eye(2), atol=1e-5)
    assert abs(comps[0] @ direction) > 0.99
    pts = E.pca_project(x, mean, comps)
    assert pts.shape == (200, 2) and pts[:, 0].var() > 50 * pts[:, 1].var()


def test_neighbour_view_and_projection_plot():
    texts = ["a", "b", "c", "d"]
    vecs = torch.tensor([[1.0, 0.0, 0.0], [0.9, 0.1, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
    fig, ranked = V.neighbour_view("q", texts, vecs, lambda s: torch.tensor([[1.0, 0.05, 0.0]]), k=2)
    assert [t for t, _ in ranked] == ["a", "b"] and ranked[0][1] > ranked[1][1]
    assert len(fig.axes) == 2 and fig.axes[1].get_xlabel() == "cosine similarity"
    ax = V.plot_projection(torch.randn(4, 2), texts, groups=["x", "x", "y", "y"])
    assert ax.get_xlabel() == "principal component 1" and len(ax.get_legend().get_texts()) == 2
    plt.close("all")


def test_explorer_widget_updates_on_a_query():
    pytest.importorskip("ipywidgets")
    vecs = torch.eye(3)
    box = V.embedding_explorer(["x", "y", "z"], vecs, lambda s: torch.tensor([[0.0, 1.0, 0.0]]), query="y?")
    text_widget, slider = box.children[0].children
    assert text_widget.value == "y?" and slider.max == 3
    text_widget.value = "another query"  # triggers a redraw without error
    plt.close("all")


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda: E.tokenize_words(b"bytes"), TypeError, "text must be a str"),
        (lambda: E.WordVocab.from_words([], 5), ValueError, "empty list of words"),
        (lambda: E.WordVocab.from_words(["a"], 0), ValueError, "max_size must be >= 1"),
        (lambda: E.one_hot_embed(torch.tensor([0.0]), torch.eye(3)), TypeError, "integer token ids"),
        (lambda: E.one_hot_embed(torch.tensor([3]), torch.eye(3)), ValueError, r"ids must lie in \[0, 3\)"),
        (lambda: E.one_hot_embed(torch.tensor([0]), torch.ones(3)), ValueError, r"\(V, D\) embedding matrix"),
        (lambda: E.skipgram_pairs(torch.arange(5), 0), ValueError, "window must be >= 1"),
        (lambda: E.skipgram_pairs(torch.ones(2, 3, dtype=torch.long), 1), ValueError, "1-D tensor"),
        (lambda: E.subsample(torch.arange(3), torch.ones(3), 0.0), ValueError, "threshold must be > 0"),
        (lambda: E.train_word2vec(torch.arange(5), torch.ones(3)), ValueError, "counts has only 3 entries"),
        (lambda: E.train_word2vec(torch.arange(2), torch.ones(3)), ValueError, "longer than window"),
        (lambda: E.cosine_similarity(torch.ones(2, 3), torch.ones(2, 4)), ValueError, "same width D"),
        (lambda: E.nearest_neighbours(torch.ones(3), torch.ones(4, 3), k=4, exclude=[0]), ValueError, "k=4"),
        (lambda: E.nearest_neighbours(torch.ones(1, 3), torch.ones(4, 3)), ValueError, r"query must be \(D,\)"),
        (lambda: E.fit_pca(torch.ones(1, 3)), ValueError, "fit_pca needs"),
        (lambda: V.plot_projection(torch.ones(3, 2), ["a"]), ValueError, "N labels"),
        (lambda: V.neighbour_view(" ", ["a"], torch.ones(1, 2), lambda s: torch.ones(1, 2)), ValueError, "empty"),
    ],
)
def test_bad_input_gets_a_clear_message(call, error, match):
    with pytest.raises(error, match=match):
        call()
