"""Recurrent language models before attention: RNN and LSTM cells, an LSTM LM, truncated BPTT (chapter 4).

``LSTMLanguageModel`` is the model of source article 002 §5 (embedding, ``nn.LSTM``, linear
head) with the interface of ``lt.GPT``: ``forward(idx, targets) -> (logits, loss)``, so
``lt.train.estimate_loss`` evaluates both the same way. ``train_tbptt`` trains it with teacher
forcing and truncated backpropagation through time, reusing the pieces of ``lmtutor.train``.
``recall_batch`` makes the long-range recall task of the chapter.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from .device import get_device
from .train import TrainConfig, _Clock, _evaluate, _new_history, _Run, configure_optimizer, lr_at, set_lr, train_step

__all__ = [
    "LSTMConfig",
    "LSTMLanguageModel",
    "rnn_step",
    "lstm_step",
    "detach_state",
    "tbptt_batches",
    "train_tbptt",
    "recall_batch",
]

State = tuple[torch.Tensor, torch.Tensor]  # (h, c), each (num_layers, B, hidden_size)


def rnn_step(x: torch.Tensor, h: torch.Tensor, w_ih, w_hh, b_ih, b_hh) -> torch.Tensor:
    """One step of an Elman RNN as ``nn.RNN`` computes it: h' = tanh(x W_ihᵀ + b_ih + h W_hhᵀ + b_hh).

    Shapes: x (B, E), h (B, H), w_ih (H, E), w_hh (H, H), biases (H,) -> h' (B, H).
    """
    return torch.tanh(x @ w_ih.T + b_ih + h @ w_hh.T + b_hh)


def lstm_step(x: torch.Tensor, h: torch.Tensor, c: torch.Tensor, w_ih, w_hh, b_ih, b_hh) -> State:
    """One LSTM step in ``nn.LSTM``'s gate order (input, forget, cell candidate, output).

    Shapes: x (B, E), h and c (B, H), w_ih (4H, E), w_hh (4H, H), biases (4H,) -> h', c' (B, H).
    """
    gates = x @ w_ih.T + b_ih + h @ w_hh.T + b_hh  # (B, 4H)
    i, f, g, o = gates.chunk(4, dim=-1)  # (B, H) each
    c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)  # forget some memory, write some new
    h = torch.sigmoid(o) * torch.tanh(c)  # read out part of the memory
    return h, c


def detach_state(state: Sequence[torch.Tensor] | None) -> State | None:
    """Cut the graph behind a hidden state: keep its values, drop the history for backprop."""
    if state is None:
        return None
    if not isinstance(state, (tuple, list)) or not all(isinstance(s, torch.Tensor) for s in state):
        raise TypeError(f"state must be a tuple of tensors such as (h, c) or None, got {type(state).__name__}")
    return tuple(s.detach() for s in state)


@dataclass
class LSTMConfig:
    """Size of an LSTM language model; ``block_size`` is the chunk length of truncated BPTT."""

    vocab_size: int = 65  # V
    embed_size: int = 128  # E
    hidden_size: int = 256  # H
    num_layers: int = 1
    block_size: int = 64  # T of one training chunk (and of the evaluation windows)
    dropout: float = 0.0

    def __post_init__(self) -> None:
        for name in ("vocab_size", "embed_size", "hidden_size", "num_layers", "block_size"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"LSTMConfig.{name} must be a positive int, got {value!r}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"LSTMConfig.dropout must be in [0, 1), got {self.dropout}")


class LSTMLanguageModel(nn.Module):
    """The LSTM language model of source 002 §5: embedding -> LSTM -> linear head.

    Shapes: idx (B, T) int64 -> logits (B, T, V); the state (h, c) is (num_layers, B, H) each.
    """

    def __init__(self, config: LSTMConfig):
        super().__init__()
        self.config = c = config
        self.embedding = nn.Embedding(c.vocab_size, c.embed_size)
        dropout = c.dropout if c.num_layers > 1 else 0.0  # nn.LSTM applies dropout between layers only
        self.rnn = nn.LSTM(c.embed_size, c.hidden_size, c.num_layers, batch_first=True, dropout=dropout)
        self.fc = nn.Linear(c.hidden_size, c.vocab_size)

    def step(self, idx: torch.Tensor, targets: torch.Tensor | None = None, state: State | None = None):
        """Run a chunk from ``state`` (None = zeros); return ``(logits, loss, new_state)``."""
        if idx.dim() != 2 or idx.is_floating_point():
            raise ValueError(f"idx must be (B, T) token ids, got shape {tuple(idx.shape)} and dtype {idx.dtype}")
        if state is not None and state[0].shape[1] != idx.shape[0]:
            raise ValueError(
                f"the state is for a batch of {state[0].shape[1]} but idx has {idx.shape[0]} rows; "
                "start from state=None when the batch size changes"
            )
        x = self.embedding(idx)  # (B, T, E)
        out, state = self.rnn(x, state)  # out (B, T, H): the top layer's h at every step
        logits = self.fc(out)  # (B, T, V)
        loss = None
        if targets is not None:
            loss = F.cross_entropy(logits.reshape(-1, logits.size(-1)), targets.reshape(-1))
        return logits, loss, state

    def forward(self, idx: torch.Tensor, targets: torch.Tensor | None = None):
        """From a zero state, like ``lt.GPT``: ``(logits, loss)``; loss is None without targets."""
        logits, loss, _ = self.step(idx, targets)
        return logits, loss


def tbptt_batches(data: torch.Tensor, batch_size: int, chunk: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Cut a token stream into ``batch_size`` parallel streams and consecutive chunks of ``chunk`` tokens.

    Row b of chunk i+1 continues row b of chunk i, so a hidden state can be carried across chunks.
    Shapes: data (N,) -> x, y (n_chunks, B, chunk) with y the next tokens of x.
    """
    if not isinstance(data, torch.Tensor) or data.dim() != 1:
        raise ValueError(f"data must be a 1-D tensor of token ids, got {getattr(data, 'shape', type(data))}")
    per_stream = (len(data) - 1) // batch_size  # one spare token for the last target
    n_chunks = per_stream // chunk
    if n_chunks < 1:
        raise ValueError(
            f"{len(data)} tokens are too few for {batch_size} streams of at least one chunk of {chunk}; "
            "use a smaller batch_size or chunk"
        )
    used = batch_size * per_stream
    x = data[:used].view(batch_size, per_stream)[:, : n_chunks * chunk]  # (B, n_chunks * chunk)
    y = data[1 : used + 1].view(batch_size, per_stream)[:, : n_chunks * chunk]
    x = x.reshape(batch_size, n_chunks, chunk).transpose(0, 1)  # (n_chunks, B, chunk)
    y = y.reshape(batch_size, n_chunks, chunk).transpose(0, 1)
    return x, y


def train_tbptt(
    model: LSTMLanguageModel,
    train_data: torch.Tensor,
    val_data: torch.Tensor,
    cfg: TrainConfig,
    device: torch.device | str | None = None,
    callbacks: Sequence = (),
) -> dict[str, list]:
    """Train with teacher forcing and truncated BPTT: the state is carried across chunks and detached.

    Same schedule, optimizer, step, evaluation (random windows from a zero state) and history as
    ``lt.train.train``, so ``lt.train.run_summary`` reads the result.
    """
    device = get_device(device)
    xs, ys = tbptt_batches(train_data, cfg.batch_size, model.config.block_size)
    model.to(device).train()
    optimizer = configure_optimizer(model, cfg, device)
    torch.manual_seed(cfg.seed)
    history, carried = _new_history(), {"state": None}

    def forward(x, y):  # train_step's forward: one chunk from the carried state
        logits, loss, state = model.step(x, y, carried["state"])
        carried["state"] = detach_state(state)  # keep the values, cut the graph: backprop stops here
        return logits, loss

    state = {"cfg": cfg, "history": history, "step": 0, "model": model, "device": device}
    clock, data = _Clock(0.0, 0.0, device), {"train": train_data, "val": val_data}
    run = _Run(model, forward, optimizer, None, data, cfg, device, callbacks, None, clock, state)
    run.call("on_start")
    for step in range(cfg.max_steps):
        elapsed, i = clock.elapsed(), step % len(xs)
        lr = lr_at(step, cfg, elapsed)
        set_lr(optimizer, lr)
        if i == 0:
            carried["state"] = None  # a new pass over the streams starts from zeros
        loss = train_step(
            model, optimizer, xs[i].to(device), ys[i].to(device), cfg.grad_clip, cfg.use_autocast, forward
        )
        out_of_time = cfg.time_budget is not None and elapsed >= cfg.time_budget
        history["step"].append(step)
        history["lr"].append(lr)
        history["loss"].append(loss.item())
        state.update(step=step, loss=history["loss"][-1], lr=lr)
        run.call("on_step")
        if step % cfg.eval_interval == 0 or step == cfg.max_steps - 1 or out_of_time:
            _evaluate(run)
        if out_of_time:
            break
    run.call("on_end")
    return history


def recall_batch(
    batch_size: int, length: int, n_symbols: int = 8, generator: torch.Generator | None = None, distance=None
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The recall task: ``length`` random symbols, then a query "which symbol came k steps back?".

    Symbols are ids 0..n_symbols-1; the query for distance k (1..length) is id n_symbols + k - 1,
    so the vocabulary has n_symbols + length ids. ``distance`` fixes k (an int) or draws it.
    Shapes: -> x (B, length + 1) int64, targets (B,), distances (B,).
    """
    if length < 1 or n_symbols < 2 or batch_size < 1:
        raise ValueError(f"need length >= 1, n_symbols >= 2, batch_size >= 1; got {length}, {n_symbols}, {batch_size}")
    if distance is not None and not 1 <= int(distance) <= length:
        raise ValueError(f"distance must be in 1..length={length}, got {distance}")
    symbols = torch.randint(n_symbols, (batch_size, length), generator=generator)  # (B, L)
    if distance is None:
        k = torch.randint(1, length + 1, (batch_size,), generator=generator)  # (B,)
    else:
        k = torch.full((batch_size,), int(distance))
    targets = symbols[torch.arange(batch_size), length - k]  # the symbol k steps before the query
    x = torch.cat([symbols, (n_symbols + k - 1)[:, None]], dim=1)  # (B, L + 1)
    return x, targets, k
