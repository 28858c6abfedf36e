"""Exercises of chapter 4 (RNN and LSTM): one RNN step, one LSTM step, truncated-BPTT batches, gradient vs distance."""

from __future__ import annotations

import torch
from torch import nn

from .core import Case, Exercise, Mistake, register

__all__ = ["rnn_step", "lstm_step", "tbptt_batches", "gradient_by_distance"]


def _randn(*shape: int, seed: int, scale: float = 1.0) -> torch.Tensor:
    return scale * torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


def _weights(n_in: int, hidden: int, gates: int, seed: int, scale: float = 0.5) -> tuple:
    """(w_ih, w_hh, b_ih, b_hh) for a cell with `gates` blocks of `hidden` rows."""
    return (
        _randn(gates * hidden, n_in, seed=seed, scale=scale),
        _randn(gates * hidden, hidden, seed=seed + 1, scale=scale),
        _randn(gates * hidden, seed=seed + 2, scale=scale),
        _randn(gates * hidden, seed=seed + 3, scale=scale),
    )


# 4.1 one RNN step: h' = tanh(x W_ihᵀ + b_ih + h W_hhᵀ + b_hh)


def _rnn(x, h, w_ih, w_hh, b_ih, b_hh):
    return torch.tanh(x @ w_ih.T + b_ih + h @ w_hh.T + b_hh)  # (B, H)


def _rnn_cases() -> list[Case]:
    return [
        Case("batch 3, input 5, hidden 4", (_randn(3, 5, seed=1), _randn(3, 4, seed=2), *_weights(5, 4, 1, 10))),
        Case(
            "square weights (input = hidden = 6)", (_randn(2, 6, seed=3), _randn(2, 6, seed=4), *_weights(6, 6, 1, 20))
        ),
        Case("one sequence, one hidden unit", (_randn(1, 3, seed=5), _randn(1, 1, seed=6), *_weights(3, 1, 1, 30))),
        Case(
            "large inputs (tanh saturates)",
            (_randn(2, 4, seed=7, scale=20.0), _randn(2, 4, seed=8), *_weights(4, 4, 1, 40)),
        ),
    ]


rnn_step = register(
    Exercise(
        name="recurrent.rnn_step",
        title="Exercise 4.1: one step of an RNN",
        reference=_rnn,
        cases=_rnn_cases,
        mistakes=[
            Mistake(
                lambda x, h, w_ih, w_hh, b_ih, b_hh: torch.tanh(x @ w_ih.T + b_ih + h @ w_hh + b_hh),
                "The recurrent weight is applied untransposed: PyTorch stores weights as (out, in), so the "
                "hidden state is multiplied by the transpose of w_hh, like the input by the transpose of w_ih.",
            ),
            Mistake(
                lambda x, h, w_ih, w_hh, b_ih, b_hh: torch.relu(x @ w_ih.T + b_ih + h @ w_hh.T + b_hh),
                "Wrong nonlinearity: PyTorch's RNN squashes the sum with tanh, which keeps the state in (-1, 1).",
            ),
            Mistake(
                lambda x, h, w_ih, w_hh, b_ih, b_hh: torch.tanh(x @ w_ih.T + b_ih + h @ w_hh.T),
                "A bias is missing: PyTorch's RNN adds two bias vectors, one for the input path and one for the "
                "recurrent path.",
            ),
            Mistake(
                lambda x, h, w_ih, w_hh, b_ih, b_hh: torch.tanh(x @ w_ih.T + b_ih) + h @ w_hh.T + b_hh,
                "The recurrent term is added after the nonlinearity: the input and the previous state are "
                "summed first and squashed together.",
            ),
        ],
        hint=(
            "Check both paths into the new state (the input and the previous state, each with its own weight "
            "and bias), the transposes, and the nonlinearity."
        ),
    )
)


# 4.2 one LSTM step in nn.LSTM's gate order (i, f, g, o)


def _lstm(x, h, c, w_ih, w_hh, b_ih, b_hh, order="ifgo", forget=True, squash=True, gate_fn=torch.sigmoid):
    gates = dict(zip(order, (x @ w_ih.T + b_ih + h @ w_hh.T + b_hh).chunk(4, dim=-1), strict=True))
    i, f, g, o = gate_fn(gates["i"]), gate_fn(gates["f"]), torch.tanh(gates["g"]), gate_fn(gates["o"])
    c = f * c + i * g if forget else c + i * g
    h = o * torch.tanh(c) if squash else o * c
    return h, c


def _lstm_cases() -> list[Case]:
    return [
        Case(
            "batch 3, input 5, hidden 4",
            (_randn(3, 5, seed=1), _randn(3, 4, seed=2), _randn(3, 4, seed=3), *_weights(5, 4, 4, 10)),
        ),
        Case(
            "one unit (H = 1)",
            (_randn(2, 3, seed=4), _randn(2, 1, seed=5), _randn(2, 1, seed=6), *_weights(3, 1, 4, 20)),
        ),
        Case(
            "zero initial state", (_randn(4, 6, seed=7), torch.zeros(4, 8), torch.zeros(4, 8), *_weights(6, 8, 4, 30))
        ),
        Case(
            "a large cell memory (|c| ~ 5)",
            (_randn(2, 4, seed=8), _randn(2, 4, seed=9), _randn(2, 4, seed=10, scale=5.0), *_weights(4, 4, 4, 40)),
        ),
    ]


lstm_step = register(
    Exercise(
        name="recurrent.lstm_step",
        title="Exercise 4.2: one step of an LSTM",
        reference=_lstm,
        cases=_lstm_cases,
        mistakes=[
            Mistake(
                lambda *a: _lstm(*a, order="ifog"),
                "The gates are read in the wrong order: PyTorch stacks its four blocks of rows as input gate, "
                "forget gate, cell candidate, output gate.",
            ),
            Mistake(
                lambda *a: _lstm(*a, forget=False),
                "The old memory is kept whole: the forget gate must scale the previous cell state before the "
                "new content is added.",
            ),
            Mistake(
                lambda *a: _lstm(*a, squash=False),
                "The output reads the raw cell state: the new cell state goes through tanh before the output "
                "gate scales it.",
            ),
            Mistake(
                lambda *a: _lstm(*a, gate_fn=torch.tanh),
                "The gates use the wrong squashing function: gates are fractions between 0 and 1 (sigmoid); "
                "only the cell candidate uses tanh.",
            ),
        ],
        hint=(
            "Check the order of the four gates in the pre-activations, which nonlinearity each gate uses, and"
            " how the cell state and the output are updated."
        ),
    )
)


# 4.3 the data layout of truncated BPTT


def _tbptt(data, batch_size, chunk, shift=1, streams=True):
    per_stream = (len(data) - 1) // batch_size
    n_chunks = per_stream // chunk
    used = batch_size * per_stream
    out = []
    for start in (0, shift):
        rows = data[start : start + used].view(batch_size, per_stream)[:, : n_chunks * chunk]  # (B, n * chunk)
        if streams:
            out.append(rows.reshape(batch_size, n_chunks, chunk).transpose(0, 1))  # (n_chunks, B, chunk)
        else:  # consecutive chunks side by side: chunk i+1 of a row does not continue chunk i
            flat = data[start : start + n_chunks * chunk * batch_size]
            out.append(flat.view(n_chunks, batch_size, chunk))
    return tuple(out)


tbptt_batches = register(
    Exercise(
        name="recurrent.tbptt_batches",
        title="Exercise 4.3: parallel streams for truncated BPTT",
        reference=_tbptt,
        cases=[
            Case("the numbers 0..24, 2 streams, chunks of 3", (torch.arange(25), 2, 3)),
            Case("one stream (B = 1), chunks of 4", (torch.arange(13), 1, 4)),
            Case("a leftover that fills no chunk", (torch.arange(100, 131), 3, 4)),
            Case(
                "1,000 random token ids, 4 streams, chunks of 16",
                (torch.randint(65, (1000,), generator=torch.Generator().manual_seed(3)), 4, 16),
            ),
        ],
        mistakes=[
            Mistake(
                lambda d, b, t: _tbptt(d, b, t, shift=0),
                "The targets are not shifted: a model that must predict the token it already sees learns to copy."
                " The target at each position is the next token.",
            ),
            Mistake(
                lambda d, b, t: _tbptt(d, b, t, streams=False),
                "Row b of chunk i+1 does not continue row b of chunk i, so a carried hidden state would "
                "arrive at unrelated text. Cut the data into B long streams first, then cut each stream "
                "into chunks.",
            ),
            Mistake(
                lambda d, b, t: tuple(z.transpose(0, 1) for z in _tbptt(d, b, t)),
                "The axes are in the wrong order: the first axis must be the chunk number, so that each entry "
                "along it is the (B, chunk) batch of one step.",
            ),
        ],
        hint=(
            "Check how many tokens each stream gets (the targets are shifted by one), how the data is laid "
            "out into parallel streams, and the window boundaries at the end."
        ),
        show_expected=True,
    )
)


# 4.4 the gradient of the last position's output with respect to the input k steps back


class _RNNOut(nn.Module):
    """nn.RNN that returns only its outputs (B, T, H), with a fixed seed for its weights."""

    def __init__(self, n_in: int, hidden: int, seed: int):
        super().__init__()
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            self.rnn = nn.RNN(n_in, hidden, batch_first=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.rnn(x)[0]


class _Running(nn.Module):
    """A causal running mean over time: output t = mean of inputs 0..t (every distance counts)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        steps = torch.arange(1, x.shape[1] + 1, dtype=x.dtype)[None, :, None]
        return x.cumsum(dim=1) / steps


def _grad_dist(f, x, reverse=True, last_only=True, per_row=True):
    x = x.clone().requires_grad_(True)
    out = f(x)  # (B, T, D_out)
    (out[:, -1] if last_only else out).sum().backward()
    g = x.grad  # (B, T, D)
    norms = g.norm(dim=-1).mean(dim=0) if per_row else g.norm(dim=(0, 2))  # (T,)
    return norms.flip(0) if reverse else norms  # index k = distance from the last position


gradient_by_distance = register(
    Exercise(
        name="recurrent.gradient_distance",
        title="Exercise 4.4: gradient norm against distance",
        reference=_grad_dist,
        cases=lambda: [
            Case("an RNN, 2 sequences of 6 steps", (_RNNOut(3, 5, seed=1), _randn(2, 6, 3, seed=2))),
            Case("a running mean, 3 sequences of 5 steps", (_Running(), _randn(3, 5, 4, seed=3))),
            Case("one step (T = 1)", (_RNNOut(2, 3, seed=4), _randn(2, 1, 2, seed=5))),
            Case("an RNN, 4 sequences of 12 steps", (_RNNOut(4, 8, seed=6), _randn(4, 12, 4, seed=7))),
        ],
        mistakes=[
            Mistake(
                lambda f, x: _grad_dist(f, x, reverse=False),
                "The result is in position order: entry k must be the distance k back from the last "
                "position (k = 0 is the last input itself).",
            ),
            Mistake(
                lambda f, x: _grad_dist(f, x, last_only=False),
                "The loss sums the outputs of every position; take only the output at the last position, "
                "so that each input's gradient says how much it reaches that one output.",
            ),
            Mistake(
                lambda f, x: _grad_dist(f, x, per_row=False),
                "The norm is taken over the batch and the features together; take the norm of each "
                "sequence's gradient vector, then average over the batch.",
            ),
        ],
        hint=(
            "Check what the gradient is taken of (the last output only), with respect to what (the input), "
            "and the dimension the norm is taken over."
        ),
    )
)
