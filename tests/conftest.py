"""Shared fixtures. Tests never touch the network: the hub is offline and data comes from LMTUTOR_DATA_DIR."""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import matplotlib  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

matplotlib.use("Agg")  # this process only; notebook kernels keep their inline backend


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)
    yield


@pytest.fixture(scope="session")
def shakespeare() -> str:
    from lmtutor.data import load_shakespeare

    return load_shakespeare()
