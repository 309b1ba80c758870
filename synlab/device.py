"""Device and precision choice for synlab, in one place.

``SYNLAB_DEVICE`` picks the device (``cpu``, ``cuda``, ``cuda:1`` ...); without it, CUDA is
used when present and the CPU otherwise. Nothing else in the package assumes a device:
functions take tensors or a ``device`` argument and fall back to :func:`default_device`.
"""

from __future__ import annotations

import os

import torch

__all__ = ["default_device", "describe_device", "progress_enabled"]


def default_device() -> torch.device:
    """The device named by ``SYNLAB_DEVICE``, else CUDA if available, else CPU."""
    name = os.environ.get("SYNLAB_DEVICE", "").strip()
    if name:
        try:
            dev = torch.device(name)
        except RuntimeError as err:
            raise ValueError(
                f"SYNLAB_DEVICE={name!r} is not a device; use cpu, cuda, cuda:1, mps ..."
            ) from err
        if dev.type == "cuda" and not torch.cuda.is_available():
            raise ValueError(f"SYNLAB_DEVICE={name!r} but CUDA is not available on this machine")
        return dev
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def describe_device(device: torch.device | str | None = None) -> str:
    """A human-readable description recorded in provenance (e.g. ``cuda:0 (NVIDIA H100)``)."""
    dev = torch.device(device) if device is not None else default_device()
    if dev.type == "cuda":
        idx = dev.index if dev.index is not None else torch.cuda.current_device()
        return f"cuda:{idx} ({torch.cuda.get_device_name(idx)})"
    return f"cpu ({os.cpu_count()} logical cores, {torch.get_num_threads()} torch threads)"


def stacking_enabled(device: torch.device | str | None = None) -> bool:
    """Whether experiments that can stack their units (train K networks as one) should.

    ``SYNLAB_STACK=1`` / ``0`` decides; otherwise stack on CUDA only. On the 2-core CPU machine
    stacking does not pay (``benchmarks/bench_stacked.py``: 0.84x), on a GPU it fills the device.
    """
    flag = os.environ.get("SYNLAB_STACK", "").strip().lower()
    if flag in {"1", "true", "yes", "on"}:
        return True
    if flag in {"0", "false", "no", "off"}:
        return False
    if flag:
        raise ValueError(f"SYNLAB_STACK must be 1 or 0; got {flag!r}")
    dev = torch.device(device) if device is not None else default_device()
    return dev.type == "cuda"


def stack_limit() -> int | None:
    """The most units one stack may hold (``SYNLAB_STACK_MAX``; unset: no limit). Smaller stacks
    land in more pieces, so a run stopped early keeps more of its work, and bound the memory."""
    flag = os.environ.get("SYNLAB_STACK_MAX", "").strip()
    if not flag:
        return None
    if not flag.isdigit() or int(flag) < 1:
        raise ValueError(f"SYNLAB_STACK_MAX must be a positive integer; got {flag!r}")
    return int(flag)


def progress_enabled() -> bool:
    """Progress bars are on unless ``SYNLAB_PROGRESS=0`` or ``TQDM_DISABLE=1`` (CI sets one)."""
    if os.environ.get("SYNLAB_PROGRESS", "1").strip().lower() in {"0", "false", "no", "off"}:
        return False
    return os.environ.get("TQDM_DISABLE", "0").strip().lower() not in {"1", "true", "yes"}
