"""The batched env backends by name: one lookup for training (`srmt train --backend`) and
evaluation (`srmt eval --backend`). Both are `envs.batched.BatchedEnv`s and step identically
(tests/test_torch_backend_equivalence.py)."""
from __future__ import annotations

from typing import Callable, Literal

from envs.batched import BatchedEnv
from envs.config import EnvConfig
from envs.pogema_backend import PogemaBatchedEnv
from envs.torch_backend import TorchBatchedEnv

Backend = Literal["pogema", "torch"]
"""A backend's name (the type of config fields naming one; tests check it lists BACKENDS' keys)."""
BACKENDS: dict[Backend, Callable[..., BatchedEnv]] = {"pogema": PogemaBatchedEnv, "torch": TorchBatchedEnv}
"""Backend name -> its batched env class (constructor: config, num_envs, device, task_source, auto_reset)."""


def make_backend(backend: str, config: EnvConfig, num_envs: int, device: str = "cpu", **kwargs) -> BatchedEnv:
    """A batched env of `backend` (a BACKENDS key) with `num_envs` environments on `device`; `kwargs`
    go to its constructor (e.g. auto_reset=False)."""
    if backend not in BACKENDS:
        raise ValueError(f"backend={backend!r} is not one of {sorted(BACKENDS)}")
    return BACKENDS[backend](config, num_envs, device=device, **kwargs)
