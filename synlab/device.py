"""Device choice for synlab, in one place.

``SYNLAB_DEVICE`` (:mod:`synlab.settings`) picks the device (``cpu``, ``cuda``, ``cuda:1`` ...);
without it, CUDA is used when present and the CPU otherwise. Nothing else in the package assumes
a device: functions take tensors or a ``device`` argument and fall back to :func:`default_device`.
"""

from __future__ import annotations

import functools
import os

import torch

from .settings import settings

__all__ = ["default_device", "describe_device", "compiled"]


def default_device() -> torch.device:
    """The device named by ``SYNLAB_DEVICE``, else CUDA if available, else CPU."""
    name = settings().device
    if name:
        dev = torch.device(name)
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


@functools.cache
def compiled(fn):
    """``fn`` compiled with ``torch.compile`` (static shapes), once per process and function: the
    ``compiled`` engine of the hand-derived steps (:mod:`synlab.fast`, :mod:`synlab.continual`)."""
    return torch.compile(fn, dynamic=False)
