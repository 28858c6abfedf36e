"""lmtutor.recurrent: the cells equal PyTorch's, the LSTM LM, truncated BPTT, the recall task, bad input."""

import pytest
import torch
from torch import nn

import lmtutor as lt
from lmtutor import recurrent as R


def test_rnn_step_equals_nn_rnn():
    torch.manual_seed(0)
    rnn = nn.RNN(5, 7, batch_first=True)
    x = torch.randn(3, 4, 5)  # (B, T, E)
    h = torch.zeros(3, 7)
    outs = []
    for t in range(4):
        h = R.rnn_step(x[:, t], h, rnn.weight_ih_l0, rnn.weight_hh_l0, rnn.bias_ih_l0, rnn.bias_hh_l0)
        outs.append(h)
    assert torch.allclose(torch.stack(outs, 1), rnn(x)[0], atol=1e-6)


def test_lstm_step_equals_nn_lstm():
    torch.manual_seed(0)
    lstm = nn.LSTM(5, 6, batch_first=True)
    x = torch.randn(2, 9, 5)
    h, c = torch.randn(2, 6), torch.randn(2, 6)
    ref, (h_ref, c_ref) = lstm(x, (h[None], c[None]))
    weights = (lstm.weight_ih_l0, lstm.weight_hh_l0, lstm.bias_ih_l0, lstm.bias_hh_l0)
    outs = []
    for t in range(9):
        h, c = R.lstm_step(x[:, t], h, c, *weights)
        outs.append(h)
    assert torch.allclose(torch.stack(outs, 1), ref, atol=1e-6)
    assert torch.allclose(h, h_ref[0], atol=1e-6) and torch.allclose(c, c_ref[0], atol=1e-6)


def _model(**kw):
    torch.manual_seed(0)
    return R.LSTMLanguageModel(R.LSTMConfig(vocab_size=11, embed_size=8, hidden_size=12, block_size=5, **kw))


def test_model_interface_like_gpt():
    model = _model()
    idx = torch.randint(11, (3, 5))
    logits, loss = model(idx, idx)
    assert logits.shape == (3, 5, 11) and loss.ndim == 0
    assert model(idx)[1] is None
    loss_est = lt.train.estimate_loss(model, {"val": torch.randint(11, (200,))}, 5, 4, n_batches=2)
    assert loss_est["val"] > 0


def test_carried_state_equals_one_long_sequence():
    model = _model()
    idx = torch.randint(11, (2, 10))
    whole, _, _ = model.step(idx)
    first, _, state = model.step(idx[:, :5])
    second, _, _ = model.step(idx[:, 5:], state=R.detach_state(state))
    assert torch.allclose(torch.cat([first, second], 1), whole, atol=1e-6)


def test_detach_state_cuts_the_graph():
    model = _model()
    _, _, state = model.step(torch.randint(11, (2, 5)))
    assert all(s.grad_fn is not None for s in state)
    detached = R.detach_state(state)
    assert all(s.grad_fn is None and not s.requires_grad for s in detached)
    assert all(torch.equal(a, b) for a, b in zip(state, detached, strict=True))
    assert R.detach_state(None) is None
    with pytest.raises(TypeError, match="tuple of tensors"):
        R.detach_state(torch.zeros(3))


def test_tbptt_batches_streams_continue():
    data = torch.arange(25)
    x, y = R.tbptt_batches(data, batch_size=2, chunk=3)
    assert x.shape == y.shape == (4, 2, 3)
    assert torch.equal(y, x + 1)  # targets are the next tokens
    assert x[0, 1, 0] == 12 and x[1, 0, 0] == x[0, 0, -1] + 1  # stream b continues from chunk to chunk
    with pytest.raises(ValueError, match="too few"):
        R.tbptt_batches(torch.arange(5), batch_size=4, chunk=3)
    with pytest.raises(ValueError, match="1-D tensor"):
        R.tbptt_batches(torch.zeros(3, 3, dtype=torch.long), 1, 1)


def test_train_tbptt_learns_and_reports_like_train():
    torch.manual_seed(0)
    data = torch.tensor([0, 1, 2, 3, 4] * 200)  # a cycle: easy to predict
    model = _model()
    cfg = lt.train.TrainConfig(max_steps=60, batch_size=4, lr=1e-2, warmup_steps=5, eval_interval=30, eval_batches=2)
    history = R.train_tbptt(model, data[:800], data[800:], cfg, device="cpu")
    assert len(history["step"]) == 60 and history["val_loss"][-1] < 1.0 < history["val_loss"][0]
    assert lt.train.run_summary(history, 4 * 5)["steps"] == 60


def test_recall_batch():
    gen = torch.Generator().manual_seed(0)
    x, y, k = R.recall_batch(16, 10, 4, gen)
    assert x.shape == (16, 11) and y.shape == k.shape == (16,)
    assert torch.equal(x[torch.arange(16), 10 - k], y)
    assert torch.equal(x[:, -1], 4 + k - 1) and int(x[:, :-1].max()) < 4
    x, y, k = R.recall_batch(8, 10, 4, gen, distance=10)
    assert torch.equal(y, x[:, 0]) and (k == 10).all()


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"batch_size": 2, "length": 0}, "length >= 1"),
        ({"batch_size": 2, "length": 5, "n_symbols": 1}, "n_symbols >= 2"),
        ({"batch_size": 2, "length": 5, "distance": 6}, "distance must be in 1..length=5"),
    ],
)
def test_recall_batch_bad_input(kwargs, message):
    with pytest.raises(ValueError, match=message):
        R.recall_batch(**kwargs)


def test_bad_config_and_input_messages():
    with pytest.raises(ValueError, match="hidden_size must be a positive int"):
        R.LSTMConfig(hidden_size=0)
    with pytest.raises(ValueError, match="dropout"):
        R.LSTMConfig(dropout=1.0)
    model = _model()
    with pytest.raises(ValueError, match="token ids"):
        model(torch.randn(2, 5))
    _, _, state = model.step(torch.randint(11, (2, 5)))
    with pytest.raises(ValueError, match="state=None"):
        model.step(torch.randint(11, (3, 5)), state=state)
