"""Training: schedule, loss estimate, the loop, atomic checkpoints and exact resume."""

import os

import pytest
import torch

from lmtutor.train import TrainConfig, estimate_loss, load_checkpoint, lr_at, save_checkpoint, train
from lmtutor.transformer import GPT, GPTConfig

TINY = GPTConfig(vocab_size=20, block_size=16, n_layer=1, n_head=2, d_model=16)


def data(n=3000):
    g = torch.Generator().manual_seed(0)
    pattern = torch.arange(20).repeat(n // 20)  # a learnable cycle 0, 1, ..., 19, 0, ...
    noise = torch.randint(0, 20, (len(pattern),), generator=g)
    return torch.where(torch.rand(len(pattern), generator=g) < 0.1, noise, pattern)


def test_lr_schedule_warmup_peak_and_floor():
    cfg = TrainConfig(max_steps=100, warmup_steps=10, lr=1e-3, min_lr=1e-4)
    assert lr_at(0, cfg) == pytest.approx(1e-4)
    assert lr_at(9, cfg) == pytest.approx(1e-3)
    assert lr_at(10, cfg) == pytest.approx(1e-3)
    assert lr_at(55, cfg) == pytest.approx(5.5e-4)
    assert lr_at(100, cfg) == pytest.approx(1e-4)
    assert all(lr_at(s, cfg) >= lr_at(s + 1, cfg) for s in range(10, 100))


def test_time_budget_compresses_schedule():
    cfg = TrainConfig(max_steps=1000, warmup_steps=0, lr=1.0, min_lr=0.0, time_budget=10.0)
    assert lr_at(0, cfg, elapsed=10.0) == pytest.approx(0.0)
    assert lr_at(0, cfg, elapsed=5.0) == pytest.approx(0.5)


def test_training_reduces_loss():
    d = data()
    model = GPT(TINY)
    cfg = TrainConfig(max_steps=150, batch_size=16, lr=1e-2, warmup_steps=10, eval_interval=50, eval_batches=4)
    hist = train(model, d[:2500], d[2500:], cfg, device="cpu")
    assert hist["val_loss"][-1] < hist["val_loss"][0] - 1.0
    assert len(hist["loss"]) == 150 and hist["eval_step"][-1] == 149
    assert all(t > 0 for t in hist["tokens_per_s"])


def test_estimate_loss_is_deterministic():
    d = data()
    model = GPT(TINY)
    a = estimate_loss(model, {"val": d}, 16, 8, 3)
    b = estimate_loss(model, {"val": d}, 16, 8, 3)
    assert a == b


class Crash:
    """A callback that kills the run at a given step, like a closed laptop lid."""

    def __init__(self, at: int):
        self.at = at

    def on_step(self, state):
        if state["step"] == self.at:
            raise KeyboardInterrupt("simulated crash")


def test_resume_reproduces_uninterrupted_run(tmp_path):
    d = data()
    cfg = TrainConfig(
        max_steps=60, batch_size=8, lr=5e-3, warmup_steps=5, eval_interval=20, eval_batches=2, checkpoint_interval=25
    )
    config = GPTConfig(**{**TINY.to_dict(), "dropout": 0.1})  # dropout exercises the saved RNG state
    torch.manual_seed(0)
    full_model = GPT(config)
    init = {k: v.clone() for k, v in full_model.state_dict().items()}
    full = train(full_model, d[:2500], d[2500:], cfg, device="cpu")

    ck = tmp_path / "run.pt"
    crashed = GPT(config)
    crashed.load_state_dict(init)
    with pytest.raises(KeyboardInterrupt):
        train(crashed, d[:2500], d[2500:], cfg, device="cpu", checkpoint_path=ck, callbacks=[Crash(at=37)])
    assert load_checkpoint(ck)["step"] == 24  # the last checkpoint before the crash
    resumed_model = GPT(config)  # fresh weights: everything must come from the checkpoint
    resumed = train(resumed_model, d[:2500], d[2500:], cfg, device="cpu", checkpoint_path=ck, resume=True)
    assert resumed["loss"] == full["loss"]
    assert resumed["val_loss"] == full["val_loss"]
    for k, v in full_model.state_dict().items():
        assert torch.equal(v, resumed_model.state_dict()[k]), k


def test_finished_checkpoint_is_loaded_instead_of_training_again(tmp_path):
    d = data()
    cfg = TrainConfig(max_steps=20, batch_size=8, warmup_steps=2, eval_interval=10, eval_batches=2)
    ck = tmp_path / "done.pt"
    first = train(GPT(TINY), d[:2500], d[2500:], cfg, device="cpu", checkpoint_path=ck)
    again_model = GPT(TINY)
    again = train(again_model, d[:2500], d[2500:], cfg, device="cpu", checkpoint_path=ck, resume=True)
    assert again["loss"] == first["loss"]
    assert torch.equal(again_model.tok_emb.weight, load_checkpoint(ck)["model"]["tok_emb.weight"])


def test_checkpoint_write_is_atomic(tmp_path, monkeypatch):
    path = tmp_path / "ck.pt"
    save_checkpoint(path, step=1, weights=torch.ones(3))

    def crash(*args, **kwargs):
        raise KeyboardInterrupt("power cut")

    monkeypatch.setattr(torch, "save", crash)
    with pytest.raises(KeyboardInterrupt):
        save_checkpoint(path, step=2, weights=torch.zeros(3))
    monkeypatch.undo()
    ck = load_checkpoint(path)
    assert ck["step"] == 1 and torch.equal(ck["weights"], torch.ones(3))
    assert os.listdir(tmp_path) == ["ck.pt"]


def test_time_budget_run_is_not_extended_on_resume(tmp_path):
    d = data()
    cfg = TrainConfig(max_steps=10_000, batch_size=8, warmup_steps=2, eval_interval=5, eval_batches=2, time_budget=0.5)
    ck = tmp_path / "budget.pt"
    first = train(GPT(TINY), d[:2500], d[2500:], cfg, device="cpu", checkpoint_path=ck)
    assert len(first["loss"]) < 10_000 and first["eval_step"][-1] == first["step"][-1]  # stopped by the budget
    again = train(GPT(TINY), d[:2500], d[2500:], cfg, device="cpu", checkpoint_path=ck, resume=True)
    assert again["loss"] == first["loss"]  # loaded as it was, not trained further


def test_train_rejects_ids_outside_the_vocabulary():
    d = data()
    d[100] = 25  # TINY has 20 token ids
    with pytest.raises(ValueError, match=r"token ids in \[0, 25\].*vocabulary is \[0, 20\)"):
        train(GPT(TINY), d[:2500], d[2500:], TrainConfig(max_steps=2, warmup_steps=1), device="cpu")


def test_run_summary_counts_tokens_and_time():
    from lmtutor.train import run_summary

    d = data()
    cfg = TrainConfig(max_steps=12, batch_size=4, warmup_steps=2, eval_interval=5, eval_batches=2)
    hist = train(GPT(TINY), d[:2500], d[2500:], cfg, device="cpu")
    s = run_summary(hist, cfg.batch_size * TINY.block_size)
    assert s["steps"] == 12 and s["tokens"] == 12 * 4 * 16
    assert 0 < s["train_seconds"] <= s["wall_seconds"] and s["val_loss"] == hist["val_loss"][-1]
    assert s["tokens_per_s"] == pytest.approx(s["tokens"] / s["train_seconds"])


def test_the_execution_mode_follows_the_device_the_chapter_runs_on(monkeypatch):
    """A CUDA machine forced to the CPU (LMTUTOR_DEVICE=cpu) must train the CPU preset, not the GPU one."""
    from lmtutor import recipes
    from lmtutor.utils import pick

    monkeypatch.delenv("LMTUTOR_FAST", raising=False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)  # as on a machine with a GPU
    monkeypatch.setenv("LMTUTOR_DEVICE", "cpu")
    assert pick("cpu-steps", gpu="gpu-steps") == "cpu-steps"
    assert recipes.default_preset() == "cpu"
    monkeypatch.delenv("LMTUTOR_DEVICE")
    assert pick("cpu-steps", gpu="gpu-steps") == "gpu-steps"  # get_device() is CUDA now
    assert recipes.default_preset() == "gpu"
    assert recipes.default_preset(device="cpu") == "cpu"  # an explicit device wins
    monkeypatch.setenv("LMTUTOR_FAST", "1")
    assert recipes.default_preset() == "nano"
