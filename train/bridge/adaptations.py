"""The four changes srmt makes to sample-factory 2.1.1, installed by one call: `install_adaptations()`.

1. `get_rnn_size(cfg)` sizes the per-row `rnn_states` buffers. With
   `use_rnn=False` sample-factory's answer is 1 float; the SRMT state needs
   `state_size(model, A)`. The replacement returns
   `SRMTSettings.of(cfg).state_size` when the config carries an SRMT model and
   defers to the original otherwise (train/stock_peer.py). sample-factory
   imports the function by name into three modules: each binding is replaced.
2. `Learner._after_optimizer_step()` (the hook after every optimizer step)
   also checks that every weight is finite and raises `DivergenceError`
   naming the likely causes; `Learner._save_impl` refuses to write a
   checkpoint of non-finite weights, so the last one written before a
   divergence stays the newest.
3. `Learner.load_checkpoint(checkpoints, device)` calls `torch.load` without
   `weights_only`: on torch >= 2.6 that refuses the numpy scalar sample-factory
   stores as `best_performance`, and the original then logs the error and
   returns None, so training silently restarts from scratch. The replacement
   reads with weights_only and those numpy types allowed
   (checkpoints.py `read_checkpoint`) and raises on failure instead.

Nothing changes on import. `install_adaptations()` is called where training
starts (train/run.py, train/stock_peer.py: the main process, which allocates
the rollout buffers) and in every process sample-factory spawns: it pickles
its registered factories into each one, and the SRMT actor-critic factory
calls it as it is unpickled there, before any of sample-factory's code runs
in that process (registration.py `RegisteredFactory`). `installed()` says
whether it ran (tests/test_train_bridge.py, in a fresh interpreter).
pins.py holds the source hash of each replaced original.
"""
from __future__ import annotations

from typing import Any

import torch

from sample_factory.algo.learning import batcher as _batcher
from sample_factory.algo.learning import learner as _learner
from sample_factory.algo.utils import shared_buffers as _shared_buffers
from sample_factory.model import model_utils as _model_utils
from sample_factory.utils.utils import log

from train.bridge.checkpoints import read_checkpoint
from train.bridge.settings import SRMTSettings

ORIGINALS: dict[str, Any] = {
    "sample_factory.model.model_utils.get_rnn_size": _model_utils.get_rnn_size,
    "sample_factory.algo.learning.learner.Learner.load_checkpoint": _learner.Learner.__dict__["load_checkpoint"].__func__,
    "sample_factory.algo.learning.learner.Learner._after_optimizer_step": _learner.Learner._after_optimizer_step,
    "sample_factory.algo.learning.learner.Learner._save_impl": _learner.Learner._save_impl,
}
"""Qualified name -> sample-factory's own function, as imported (before any installation)."""
RNN_SIZE_BINDINGS = (_model_utils, _shared_buffers, _batcher)
"""The modules that bind `get_rnn_size` by name."""


def get_rnn_size(cfg: Any) -> int:
    """Floats per row of `rnn_states`: the SRMT state size when the config carries an SRMT model."""
    settings = SRMTSettings.of(cfg)
    size = None if settings is None else settings.state_size
    return size if size is not None else ORIGINALS["sample_factory.model.model_utils.get_rnn_size"](cfg)


def load_checkpoint(checkpoints: list[str], device: Any) -> dict | None:
    """The newest checkpoint of `checkpoints` (sorted names), or None when there is none.

    Raises:
        RuntimeError: the newest checkpoint exists but cannot be read; resuming
            must not silently start from scratch.
    """
    if not checkpoints:
        log.warning("No checkpoints found")
        return None
    path = checkpoints[-1]
    log.warning("Loading state from checkpoint %s...", path)
    try:
        return read_checkpoint(path, device)
    except Exception as err:  # noqa: BLE001 - re-raised with the path and a hint
        raise RuntimeError(f"cannot load checkpoint {path}: {err}; delete it to resume from the "
                           "previous one, or start a new experiment directory") from err


class DivergenceError(RuntimeError):
    """The weights stopped being finite numbers during training."""


def _non_finite_weights(learner: Any) -> list[str]:
    return [name for name, p in learner.actor_critic.named_parameters() if not bool(torch.isfinite(p).all())]


def after_optimizer_step(self: Any) -> None:
    """sample-factory's step counter, then a divergence check of every weight."""
    ORIGINALS["sample_factory.algo.learning.learner.Learner._after_optimizer_step"](self)
    bad = _non_finite_weights(self)
    if bad:
        raise DivergenceError(
            f"training diverged at train step {self.train_step} ({self.env_steps} env steps): non-finite "
            f"weights in {', '.join(bad[:3])}{' and more' if len(bad) > 3 else ''}. Likely causes: a learning rate too high "
            "(--learning_rate), gamma or gae_lambda out of (0, 1], rewards too large (--reward_scale). The "
            "checkpoints written before stay; resume with a smaller --learning_rate, or start a new --experiment")


def save_impl(self: Any, name_prefix: str, name_suffix: str, keep_checkpoints: int, verbose: bool = True) -> bool:
    """sample-factory's checkpoint save, refused for non-finite weights (the last good checkpoint stays)."""
    if self.is_initialized and _non_finite_weights(self):
        log.error("Not saving a checkpoint: the weights are not finite (training diverged)")
        return False
    return ORIGINALS["sample_factory.algo.learning.learner.Learner._save_impl"](
        self, name_prefix, name_suffix, keep_checkpoints, verbose)


def install_adaptations() -> None:
    """Replace the functions listed in the module docstring in this process (idempotent)."""
    for module in RNN_SIZE_BINDINGS:
        module.get_rnn_size = get_rnn_size
    _learner.Learner.load_checkpoint = staticmethod(load_checkpoint)
    _learner.Learner._after_optimizer_step = after_optimizer_step
    _learner.Learner._save_impl = save_impl


def installed() -> bool:
    """True when every binding points at its replacement; False when none does.

    Raises:
        RuntimeError: some do and some do not (something else patched sample-factory).
    """
    replaced = [*(module.get_rnn_size is get_rnn_size for module in RNN_SIZE_BINDINGS),
                _learner.Learner.__dict__["load_checkpoint"].__func__ is load_checkpoint,
                _learner.Learner._after_optimizer_step is after_optimizer_step,
                _learner.Learner._save_impl is save_impl]
    if any(replaced) and not all(replaced):
        raise RuntimeError(f"sample-factory is only partly adapted: {replaced} (get_rnn_size x3, load_checkpoint, "
                           "_after_optimizer_step, _save_impl)")
    return all(replaced)
