"""The batched env backends by name: one lookup for training (`srmt train --backend`) and
evaluation (`srmt eval --backend`). Both backends have the PogemaBatchedEnv interface and
step identically (tests/test_torch_backend_equivalence.py)."""
from __future__ import annotations

import importlib
import inspect

from envs.config import EnvConfig

BACKENDS: dict[str, str] = {
    "pogema": "envs.pogema_backend:PogemaBatchedEnv",
    "torch": "envs.torch_backend:TorchBatchedEnv",
}
"""Backend name -> 'module:class' of a batched env with the PogemaBatchedEnv interface."""


def make_backend(backend: str, config: EnvConfig, num_envs: int, device: str = "cpu", **kwargs):
    """A batched env of `backend` (a BACKENDS key) with `num_envs` environments; `kwargs` go to its
    constructor (e.g. auto_reset=False)."""
    if backend not in BACKENDS:
        raise ValueError(f"backend={backend!r} is not one of {sorted(BACKENDS)}")
    module, _, name = BACKENDS[backend].partition(":")
    cls = getattr(importlib.import_module(module), name)
    if "device" in inspect.signature(cls).parameters:
        kwargs["device"] = device
    return cls(config, num_envs, **kwargs)
