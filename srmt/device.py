"""Turning a device name into a torch.device this machine can run, or a clear error."""
from __future__ import annotations

import torch


def resolve_device(device: torch.device | str) -> torch.device:
    """`device` as a torch.device; ValueError naming it and the fix when it cannot run here.

    Example:
        >>> resolve_device("cpu")
        device(type='cpu')
    """
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as err:
        raise ValueError(f"device={device!r} is not a torch device name; use 'cpu' or 'cuda[:index]'") from err
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(f"device={device!r} but CUDA is not available here (torch {torch.__version__}, "
                             f"built for CUDA {torch.version.cuda}); use --device cpu, or a CUDA build of "
                             "torch on a machine with an NVIDIA GPU")
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise ValueError(f"device={device!r} but only {torch.cuda.device_count()} CUDA device(s) exist; "
                             f"use cuda:0..cuda:{torch.cuda.device_count() - 1}")
    elif dev.type != "cpu":
        raise ValueError(f"device={device!r} is not supported; use 'cpu' or 'cuda[:index]'")
    return dev
