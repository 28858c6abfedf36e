"""Settings of a model and of its training, the presets that pair them, the lr schedule (chapters 8, 9).

``GPTConfig`` is the model's size and options, ``TrainConfig`` the optimisation, and ``PRESETS`` the
one table from a preset name to both: ``GPTConfig.preset(name)`` and ``train_preset(name)`` read it,
and ``lmtutor.recipes.default_preset()`` picks the name for the device a chapter runs on.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, replace
from typing import NamedTuple

from .utils import did_you_mean

# fmt: off
__all__ = ["GPTConfig", "TrainConfig", "Preset", "PRESETS", "POS_ENCODINGS", "NORMS", "MLPS", "IGNORE_INDEX",
           "train_preset", "lr_at", "check_types", "default_d_ff"]
# fmt: on

# Label of a position without a loss: PyTorch's default ignore_index, and what 🤗 Transformers uses.
IGNORE_INDEX = -100


def check_types(obj, types: dict[str, type], optional: tuple[str, ...] = ()) -> None:
    """Config fields of the wrong type (``batch_size="32"``, ``max_steps=1e3``, ``lr=inf``) -> a clear error."""
    for name, kind in types.items():
        value = getattr(obj, name)
        want = {int: "an int", float: "a finite number", bool: "True or False"}[kind]
        want += " or None" if name in optional else ""
        ok = isinstance(value, (int, float) if kind is float else kind) and (
            kind is bool or not isinstance(value, bool)
        )
        if (value is None and name in optional) or (ok and (kind is not float or math.isfinite(value))):
            continue
        try:
            if kind is bool:
                fix = f"{name}={str(value).strip().lower() in ('true', '1', 'yes')} (no quotes)"
            else:
                fix = f"{name}={kind(value)!r}" if isinstance(value, str) or kind is int else f"a finite {name}"
        except (TypeError, ValueError, OverflowError):
            fix = f"{name}={getattr(type(obj), name, None)!r} (the default)"
        raise (ValueError if ok else TypeError)(
            f"{type(obj).__name__}.{name} must be {want}, got {value!r} ({type(value).__name__}); use {fix}"
        )


POS_ENCODINGS = ("learned", "sinusoidal", "rope", "none")
NORMS = ("layernorm", "rmsnorm")  # GPT-2's LayerNorm; RMSNorm (Zhang & Sennrich 2019), as in LLaMA
MLPS = ("gelu", "swiglu")  # GPT-2's GELU MLP; SwiGLU (Shazeer 2020), as in LLaMA


def default_d_ff(d_model: int, mlp: str = "gelu") -> int:
    """The feed-forward width when ``d_ff`` is None: 4 * d_model for GELU.

    SwiGLU has three matrices instead of two, so its width is 2/3 of 4 * d_model, rounded up to a multiple
    of 8 (as in LLaMA): 3 * (8/3) * D² ≈ 2 * 4 * D², about the GELU MLP's parameter count.
    """
    if mlp == "swiglu":
        return -(-(2 * 4 * d_model // 3) // 8) * 8  # ceil(floor(8D/3) / 8) * 8
    return 4 * d_model


@dataclass
class GPTConfig:
    """Size and options of a GPT. Names map to GPT-2's: d_model=n_embd, block_size=n_positions.

    The defaults are GPT-2's blocks. Today's LLMs (chapter 15) change three of them: ``norm="rmsnorm"``,
    ``mlp="swiglu"`` and grouped-query attention with ``n_kv_head`` key/value heads (1 is multi-query),
    usually together with ``pos_encoding="rope"``. ``d_ff=None`` means ``default_d_ff(d_model, mlp)``: 4 * d_model
    for GELU, 2/3 of that (rounded up to a multiple of 8) for SwiGLU, so both MLPs have about as many parameters.
    ``d_ff`` is filled in when the config is made: to change ``mlp`` or ``d_model`` of an existing config with
    ``dataclasses.replace``, pass ``d_ff=None`` too (``GPTConfig.preset`` does this for you).
    """

    vocab_size: int = 65  # V: Tiny Shakespeare has 65 distinct characters
    block_size: int = 128  # longest context the model sees (T_max)
    n_layer: int = 4
    n_head: int = 4
    d_model: int = 128  # D, the residual-stream width
    d_ff: int | None = None  # feed-forward width; None means default_d_ff(d_model, mlp)
    dropout: float = 0.0
    bias: bool = True  # biases in Linear and LayerNorm, as GPT-2
    pos_encoding: str = "learned"  # one of POS_ENCODINGS
    tie_weights: bool = True  # output layer shares the token-embedding matrix
    layer_norm_eps: float = 1e-5  # the eps of LayerNorm or RMSNorm
    norm: str = "layernorm"  # one of NORMS
    mlp: str = "gelu"  # one of MLPS
    n_kv_head: int | None = None  # key/value heads (grouped-query attention); None means n_head
    extra: dict = field(default_factory=dict)  # free-form notes (e.g. which preset)

    def __post_init__(self) -> None:
        for name in ("vocab_size", "block_size", "n_layer", "n_head", "d_model", "d_ff"):
            value = getattr(self, name)
            if (value is None and name == "d_ff") or (type(value) is int and value >= 1):
                continue
            fix = f"; use {name}={int(value)}" if isinstance(value, str) and value.strip().isdigit() else ""
            fix = fix or f"; e.g. {name}={getattr(GPTConfig, name)}"
            if name == "d_ff":
                fix = "; use None for the default width (default_d_ff)" if value == 0 else fix
            raise ValueError(f"GPTConfig.{name} must be a positive int, got {value!r} ({type(value).__name__}){fix}")
        eps = self.layer_norm_eps
        if not (isinstance(eps, (int, float)) and 0 < eps < 1):
            raise ValueError(f"GPTConfig.layer_norm_eps must be a small positive number (e.g. 1e-5), got {eps!r}")
        for name in ("bias", "tie_weights"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"GPTConfig.{name} must be True or False, got {getattr(self, name)!r} (no quotes)")
        if not isinstance(self.dropout, (int, float)):
            raise ValueError(f"GPTConfig.dropout must be a number in [0, 1), got {self.dropout!r}; e.g. dropout=0.1")
        if self.d_model % self.n_head:
            raise ValueError(f"GPTConfig.d_model={self.d_model} must be divisible by n_head={self.n_head}")
        self._check_modern_options()
        if self.d_ff is None:
            self.d_ff = default_d_ff(self.d_model, self.mlp)
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"GPTConfig.dropout must be in [0, 1), got {self.dropout}")
        if self.pos_encoding not in POS_ENCODINGS:
            raise ValueError(f"GPTConfig.pos_encoding must be one of {POS_ENCODINGS}, got {self.pos_encoding!r}")
        if self.pos_encoding == "rope" and (self.d_model // self.n_head) % 2:
            raise ValueError("RoPE needs an even head width d_model // n_head")

    def _check_modern_options(self) -> None:
        """``norm``, ``mlp`` and ``n_kv_head`` (chapter 15): known names, and key/value heads that divide n_head."""
        for name, choices in (("norm", NORMS), ("mlp", MLPS)):
            value = getattr(self, name)
            if value not in choices:
                close = did_you_mean(value, choices) if isinstance(value, str) else ""
                raise ValueError(f"GPTConfig.{name} must be one of {choices}, got {value!r}.{close}")
        kv = self.n_kv_head
        if kv is None:
            return
        if type(kv) is not int:
            raise ValueError(f"GPTConfig.n_kv_head must be a positive int or None, got {kv!r} ({type(kv).__name__})")
        if kv < 1 or self.n_head % kv:
            allowed = [d for d in range(1, self.n_head + 1) if self.n_head % d == 0]
            raise ValueError(
                f"GPTConfig.n_kv_head={kv!r} must divide n_head={self.n_head} (each key/value head serves "
                f"n_head // n_kv_head query heads); use one of {allowed}, or None for n_head (plain multi-head)"
            )

    @property
    def kv_heads(self) -> int:
        """Number of key/value heads: ``n_kv_head``, or ``n_head`` when it is None."""
        return self.n_head if self.n_kv_head is None else self.n_kv_head

    @classmethod
    def preset(cls, name: str, **overrides) -> GPTConfig:
        """The model of a named preset (see ``PRESETS``), optionally with fields overridden.

        The feed-forward width follows ``d_model`` and ``mlp`` unless ``d_ff`` is given or the preset fixes it.
        """
        base = _preset(name).model
        if "d_ff" not in overrides and base.d_ff == default_d_ff(base.d_model, base.mlp):
            overrides["d_ff"] = None  # recomputed from the new d_model / mlp
        return replace(base, **overrides, extra={"preset": name})

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class TrainConfig:
    """Optimisation settings. ``time_budget`` (seconds) stops early and compresses the schedule."""

    max_steps: int = 3000
    batch_size: int = 32
    lr: float = 2e-3
    min_lr: float | None = None  # end of the cosine; None means lr / 10
    warmup_steps: int = 100
    weight_decay: float = 0.1
    betas: tuple[float, float] = (0.9, 0.99)
    grad_clip: float | None = 1.0
    eval_interval: int = 250
    eval_batches: int = 20
    time_budget: float | None = None
    seed: int = 1337
    checkpoint_interval: int | None = None  # also saves at the end when a path is given
    use_autocast: bool = True  # bf16 on CUDA, nothing on CPU
    compile: bool = False  # torch.compile on CUDA

    def __post_init__(self) -> None:
        optional = ("min_lr", "grad_clip", "time_budget", "checkpoint_interval")
        types = {**dict.fromkeys(_INTS, int), **dict.fromkeys(_FLOATS, float), "use_autocast": bool, "compile": bool}
        check_types(self, types, optional)
        if not (isinstance(self.betas, (tuple, list)) and len(self.betas) == 2 and all(0 <= b < 1 for b in self.betas)):
            raise ValueError(f"TrainConfig.betas must be two numbers in [0, 1), e.g. (0.9, 0.99); got {self.betas!r}")
        checks = {
            "max_steps": self.max_steps >= 1,
            "batch_size": self.batch_size >= 1,
            "lr": self.lr > 0,
            "min_lr": self.min_lr is None or 0 <= self.min_lr <= self.lr,
            "warmup_steps": 0 <= self.warmup_steps <= self.max_steps,
            "eval_interval": self.eval_interval >= 1,
            "eval_batches": self.eval_batches >= 1,
            "grad_clip": self.grad_clip is None or self.grad_clip > 0,
            "time_budget": self.time_budget is None or self.time_budget > 0,
            "checkpoint_interval": self.checkpoint_interval is None or self.checkpoint_interval >= 1,
        }
        bad = [k for k, ok in checks.items() if not ok]
        if bad:
            raise ValueError(
                f"TrainConfig has invalid values: {', '.join(f'{k}={getattr(self, k)!r}' for k in bad)} "
                "(steps, sizes and intervals must be >= 1, lr > 0, 0 <= min_lr <= lr, warmup_steps <= max_steps)"
            )


_INTS = ("max_steps", "batch_size", "warmup_steps", "eval_interval", "eval_batches", "seed", "checkpoint_interval")
_FLOATS = ("lr", "min_lr", "weight_decay", "grad_clip", "time_budget")


class Preset(NamedTuple):
    """A named size and the training recipe that goes with it (``train`` is None: not trained by the book)."""

    model: GPTConfig
    train: TrainConfig | None


PRESETS: dict[str, Preset] = {
    # CI and quick experiments: trains in seconds, learns character statistics.
    "nano": Preset(
        GPTConfig(block_size=64, n_layer=2, n_head=2, d_model=64),
        TrainConfig(max_steps=300, batch_size=32, lr=3e-3, warmup_steps=30, eval_interval=100, eval_batches=5),
    ),
    # The book's default on a laptop CPU (chapter 9): 0.35 M parameters, 2,000 steps of 32 x 64 tokens, about
    # two minutes on 2 cores. Sized for the time: at equal wall-clock time it beats nanoGPT's 0.8 M recipe
    # (bench/quality.py, lmtutor/results/quality.json).
    "cpu": Preset(
        GPTConfig(block_size=64, n_layer=3, n_head=4, d_model=96),
        TrainConfig(max_steps=2000, batch_size=32, lr=5e-3, warmup_steps=100, eval_interval=250),
    ),
    # On a CUDA GPU: nanoGPT's Shakespeare-char size (10.7 M parameters) and recipe (val loss ~1.47 on one
    # A100 in a few minutes). The time budget keeps the chapter's cell to 5 minutes on slower GPUs (a Colab
    # T4 has no bf16 and ~8 fp32 TFLOP/s): the cosine schedule is compressed to fit and training stops.
    "gpu": Preset(
        GPTConfig(block_size=256, n_layer=6, n_head=6, d_model=384, dropout=0.2),
        TrainConfig(
            max_steps=5000,
            time_budget=300.0,
            batch_size=64,
            lr=1e-3,
            min_lr=1e-4,
            warmup_steps=100,
            eval_interval=500,
            eval_batches=50,
            compile=True,
        ),
    ),
    # GPT-2 small (124 M) with its BPE vocabulary, for loading the real checkpoint.
    "gpt2": Preset(GPTConfig(vocab_size=50257, block_size=1024, n_layer=12, n_head=12, d_model=768), None),
}


def _preset(name: str) -> Preset:
    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r}.{did_you_mean(name, PRESETS)} Choose one of {sorted(PRESETS)}.")
    return PRESETS[name]


def train_preset(name: str, **overrides) -> TrainConfig:
    """The training recipe of a named preset (see ``PRESETS``), optionally with fields overridden."""
    trained = sorted(k for k, p in PRESETS.items() if p.train is not None)
    if name not in trained:
        raise ValueError(f"unknown training preset {name!r}.{did_you_mean(name, trained)} Choose one of {trained}.")
    return replace(PRESETS[name].train, **overrides)


def lr_at(step: int, cfg: TrainConfig, elapsed: float | None = None) -> float:
    """Linear warmup, then cosine decay to ``min_lr``; progress is by steps or by time, whichever is further."""
    min_lr = cfg.lr / 10 if cfg.min_lr is None else cfg.min_lr
    if step < cfg.warmup_steps:
        return cfg.lr * (step + 1) / cfg.warmup_steps
    progress = (step - cfg.warmup_steps) / max(1, cfg.max_steps - cfg.warmup_steps)
    if cfg.time_budget and elapsed is not None:
        progress = max(progress, elapsed / cfg.time_budget)
    progress = min(1.0, progress)
    return min_lr + 0.5 * (1 + math.cos(math.pi * progress)) * (cfg.lr - min_lr)
