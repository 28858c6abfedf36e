"""Device selection and mixed precision (used from the first setup cell of every chapter).

The cascade is CUDA -> MPS -> CPU. Set ``LMTUTOR_DEVICE`` (``cpu``, ``cuda``, ``cuda:1``, ``mps``)
to override it, e.g. to compare a GPU run with a CPU run of the same notebook.
"""

from __future__ import annotations

import contextlib
import os
import platform

import torch

__all__ = ["get_device", "autocast", "autocast_dtype", "describe_device", "synchronize"]


def _device_available(device: torch.device) -> bool:
    if device.type == "cpu":
        return True
    if device.type == "cuda":
        return torch.cuda.is_available() and (device.index or 0) < torch.cuda.device_count()
    if device.type == "mps":
        return torch.backends.mps.is_available()
    return False


def get_device(prefer: str | torch.device | None = None) -> torch.device:
    """The device to run on: ``prefer`` or ``$LMTUTOR_DEVICE`` if given, else CUDA -> MPS -> CPU.

    Functions that take ``device=None`` call ``get_device(device)``: the caller's device when given
    (checked to exist), else the chapter's.
    """
    wanted = prefer if prefer is not None else os.environ.get("LMTUTOR_DEVICE")
    source = "LMTUTOR_DEVICE" if prefer is None else "the device argument"
    if wanted:
        try:
            device = torch.device(wanted)
        except RuntimeError as err:
            raise ValueError(
                f"Unknown device {wanted!r} (from {source}); use 'cpu', 'cuda', 'cuda:N' or 'mps'."
            ) from err
        if not _device_available(device):
            fix = "unset LMTUTOR_DEVICE" if prefer is None else "pass device=None"
            raise RuntimeError(
                f"Device {wanted!r} (from {source}) was requested but is not available on this machine; "
                f"{fix} to pick automatically."
            )
        return device
    if torch.cuda.is_available():
        return torch.device("cuda")
    if torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def autocast_dtype(device: torch.device | str) -> torch.dtype | None:
    """bfloat16 where the device runs it fast (CUDA with bf16 support), else ``None`` (fp32)."""
    device = torch.device(device)
    if device.type == "cuda" and _native_bf16():
        return torch.bfloat16
    return None


def _native_bf16() -> bool:
    """bf16 in hardware (Ampere and newer); a T4 only emulates it, slower than fp32."""
    try:
        return torch.cuda.is_bf16_supported(including_emulation=False)
    except TypeError:  # torch without the argument
        return torch.cuda.get_device_capability()[0] >= 8


def autocast(device: torch.device | str, enabled: bool = True) -> contextlib.AbstractContextManager:
    """Mixed-precision context: bf16 autocast on CUDA where supported, a no-op elsewhere (CPU, MPS)."""
    device = torch.device(device)
    dtype = autocast_dtype(device)
    if not enabled or dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=dtype)


def synchronize(device: torch.device | str) -> None:
    """Wait for queued kernels so that wall-clock timings are honest."""
    device = torch.device(device)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "mps":
        torch.mps.synchronize()


def describe_device(device: torch.device | str | None = None) -> str:
    """One line for the setup cell: device, its name, precision and thread count."""
    device = get_device(device)
    if device.type == "cuda":
        name = torch.cuda.get_device_name(device)
        mem = torch.cuda.get_device_properties(device).total_memory / 2**30
        what = f"cuda ({name}, {mem:.0f} GiB)"
    elif device.type == "mps":
        what = f"mps (Apple GPU, {platform.machine()})"
    else:
        what = f"cpu ({torch.get_num_threads()} threads, {platform.machine()})"
    precision = "bf16 autocast" if autocast_dtype(device) else "fp32"
    return f"device: {what} | precision: {precision} | torch {torch.__version__}"
