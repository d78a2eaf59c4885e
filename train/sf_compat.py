"""Every adaptation of sample-factory 2.1.1 internals, in one place.

Stock sample-factory carries SRMT's memory without a fork (DESIGN.md, "SRMT
memory through sample-factory") once `get_rnn_size` is replaced (1); the other
replacements guard training (2: divergence) and resuming (3):

1. `get_rnn_size(cfg)` sizes the per-row `rnn_states` buffers. With
   `use_rnn=False` it returns 1; the SRMT state needs `state_size(model, A)`
   floats per row. The replacement returns `SRMTSettings.of(cfg).state_size`
   when the config carries an SRMT model and defers to the original otherwise.
   sample-factory imports the function by name into three modules, so each
   binding is replaced.
2. `Learner._after_optimizer_step()` (the hook after every optimizer step)
   also checks that every weight is finite and raises `DivergenceError`
   (naming the likely causes) when one is not; `Learner._save_impl` refuses to
   write a checkpoint of non-finite weights (logged as an error), so the last
   checkpoint written before a divergence stays the newest.
3. `Learner.load_checkpoint(checkpoints, device)` calls `torch.load` without
   `weights_only`: on torch >= 2.6 that means weights_only=True, which refuses
   the numpy scalar that `save_best` stores as `best_performance`; the
   original then logs the error and returns None, so training silently
   restarts from scratch. The replacement loads with weights_only=True and the
   few numpy scalar types allowed, and raises on failure instead.

What srmt adds to sample-factory's config: one attribute, `srmt`, carrying
train/sf_settings.py's `SRMTSettings` as a plain dict (the runner writes the
whole config to its config.json with json.dump: `Runner._save_cfg`, pinned);
the bridge reads it back typed with `SRMTSettings.of(cfg)`.

Not replaced but relied upon (pinned too): which entry point of the
actor-critic each caller uses (`CALLERS`: the inference worker acts through
`forward(obs, rnn_states)`, the learner calls `forward(..., values_only=True)`
only for the bootstrap value at T+1 and `forward_core` only for the losses;
train/sf_model.py picks the acting or the learner pass from that, not from
train() / eval()), the batched runner's episode-stats and rollout code, the
learner's batch layout (memory modes 'rebuilt' / 'learned', train/sf_model.py),
`Runner._stop_training` (train/run.py stops on Ctrl-C or budget through it),
and the learner's `init` (how it builds the Adam optimizer) and `_load_state`
(which checkpoint keys it reads): train/warm_start.py writes a step-0
checkpoint in that shape for `--init_policy`; and the runner's handlers of
learner env steps and episode statistics, whose bookkeeping
`runner_progress` reads for the training display (train/progress.py).

`install()` is idempotent and runs on import of `train.sf_model`, which every
sample-factory process imports when it unpickles the registered factories, so
spawned learner / worker processes are patched too. `PINNED` holds a hash of
the source of each replaced function: `check_pinned()` (run by the tests)
fails as soon as the installed sample-factory differs from the one these
patches were written against.
"""
from __future__ import annotations

import hashlib
import importlib
import inspect
from typing import Any, Callable

import numpy as np
import torch

from sample_factory.algo.learning import batcher as _batcher
from sample_factory.algo.learning import learner as _learner
from sample_factory.algo.utils import shared_buffers as _shared_buffers
from sample_factory.model import model_utils as _model_utils
from sample_factory.utils.utils import log

from train.sf_settings import SRMTSettings

SF_VERSION = "2.1.1"

_ORIGINAL_GET_RNN_SIZE: Callable[[Any], int] = _model_utils.get_rnn_size
_ORIGINAL_LOAD_CHECKPOINT = _learner.Learner.__dict__["load_checkpoint"].__func__
_ORIGINAL_AFTER_STEP = _learner.Learner._after_optimizer_step
_ORIGINAL_SAVE_IMPL = _learner.Learner._save_impl

PINNED: dict[str, str] = {
    "sample_factory.model.model_utils.get_rnn_size": "43a273aee245",
    "sample_factory.algo.learning.learner.Learner.load_checkpoint": "de204fdd0f6a",
    "sample_factory.algo.learning.learner.Learner._after_optimizer_step": "e1d296189983",
    "sample_factory.algo.learning.learner.Learner._save_impl": "aa5c738af2ff",
    # Callers whose behaviour the bridge relies on (not replaced, but read):
    # the inference worker acts through forward(obs, rnn_states), the learner's
    # _prepare_batch calls forward(..., values_only=True) for the bootstrap value
    # (CALLERS below); the batched runner stores per-row rnn_states and zeroes
    # them at done; episode stats are read from infos as a dict of per-row
    # tensors at the done rows.
    "sample_factory.algo.sampling.inference_worker.InferenceWorker._handle_policy_steps": "8651a96eab26",
    "sample_factory.algo.learning.learner.Learner._prepare_batch": "131fad30b72a",
    "sample_factory.algo.sampling.batched_sampling.BatchedVectorEnvRunner._process_env_step": "28e4eeac4c36",
    "sample_factory.algo.sampling.batched_sampling.BatchedVectorEnvRunner.advance_rollouts": "71c161ab974d",
    # memory='rebuilt' / 'learned' (train/sf_model.py forward_core) read the learner's minibatch as whole
    # trajectories of whole environments, trajectory-major: sampling blocks are whole env objects aligned
    # in the trajectory buffer, the batcher copies them whole and in order, _prepare_batch flattens
    # [trajectory, step], minibatches are contiguous slices (shuffle off), and the core gets them all at once:
    "sample_factory.algo.utils.shared_buffers.BufferMgr.__init__": "db0fb68dbc6b",
    "sample_factory.algo.learning.batcher.Batcher._maybe_enqueue_new_training_batches": "e1190f71addd",
    "sample_factory.algo.learning.learner.Learner._get_minibatches": "25aeb6863783",
    "sample_factory.algo.learning.learner.Learner._calculate_losses": "710c19897f46",
    # train/run.py stops training on Ctrl-C / budget the way reaching train_for_env_steps does:
    "sample_factory.algo.runners.runner.Runner._stop_training": "c69e9933211d",
    # train/warm_start.py writes the checkpoint these two read (optimizer built as in init):
    "sample_factory.algo.learning.learner.Learner.init": "09c61110531e",
    "sample_factory.algo.learning.learner.Learner._load_state": "9f49a655d2a0",
    # train/progress.py's line reads the runner's env steps and episode averages these two keep:
    "sample_factory.algo.runners.runner.Runner._learner_steps_handler": "8ad111793646",
    "sample_factory.algo.runners.runner.Runner._episodic_stats_handler": "d3f926345892",
    # json.dump of the whole config (why SRMTSettings rides on it as a plain dict):
    "sample_factory.algo.runners.runner.Runner._save_cfg": "39faa96aceb7",
}
"""Qualified name -> first 12 hex digits of sha256 of its source (see `source_hash`)."""

CALLERS: dict[str, set[str]] = {
    "forward_core": {"sample_factory.algo.learning.learner.Learner._calculate_losses"},
    "values_only=True": {"sample_factory.algo.learning.learner.Learner._prepare_batch"},
}
"""Where sample-factory (outside its own actor-critic classes) calls the actor-critic's `forward_core`, and
passes `values_only=True` to its forward: the learner's passes. Every other forward is acting (the
inference worker). train/sf_model.py relies on it; tests/test_train_sf_compat.py reads every call."""

SAFE_GLOBALS = [np.core.multiarray.scalar, np.dtype, np.dtypes.Float32DType, np.dtypes.Float64DType,
                np.dtypes.Int32DType, np.dtypes.Int64DType, np.dtypes.BoolDType]
"""What a sample-factory checkpoint holds besides tensors and builtins: numpy scalars
(`best_performance` is the np.mean of episode rewards)."""


def source_hash(obj: Any) -> str:
    """First 12 hex digits of the sha256 of an object's source code."""
    return hashlib.sha256(inspect.getsource(obj).encode()).hexdigest()[:12]


def _resolve(qualified: str) -> Any:
    """The object named by a dotted path: the longest importable module, then attributes."""
    parts = qualified.split(".")
    for split in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:split]))
            break
        except ModuleNotFoundError:
            continue
    for part in parts[split:]:
        obj = getattr(obj, part)
    return obj


def check_pinned() -> list[str]:
    """Names of pinned functions whose source changed (empty list: all as patched)."""
    originals = {
        "sample_factory.model.model_utils.get_rnn_size": _ORIGINAL_GET_RNN_SIZE,
        "sample_factory.algo.learning.learner.Learner.load_checkpoint": _ORIGINAL_LOAD_CHECKPOINT,
        "sample_factory.algo.learning.learner.Learner._after_optimizer_step": _ORIGINAL_AFTER_STEP,
        "sample_factory.algo.learning.learner.Learner._save_impl": _ORIGINAL_SAVE_IMPL,
    }
    changed = []
    for name, expected in PINNED.items():
        obj = originals.get(name) or _resolve(name)
        if source_hash(obj) != expected:
            changed.append(f"{name}: source hash {source_hash(obj)} != pinned {expected}")
    return changed


def get_rnn_size(cfg: Any) -> int:
    """Floats per row of `rnn_states`: the SRMT state size when the config carries an SRMT model."""
    settings = SRMTSettings.of(cfg)
    size = None if settings is None else settings.state_size
    return size if size is not None else _ORIGINAL_GET_RNN_SIZE(cfg)


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
        with torch.serialization.safe_globals(SAFE_GLOBALS):
            return torch.load(path, map_location=device, weights_only=True)
    except Exception as err:  # noqa: BLE001 - re-raised with the path and a hint
        raise RuntimeError(f"cannot load checkpoint {path}: {err}; delete it to resume from the "
                           "previous one, or start a new experiment directory") from err


class DivergenceError(RuntimeError):
    """The weights stopped being finite numbers during training."""


def _non_finite_weights(learner: Any) -> list[str]:
    return [name for name, p in learner.actor_critic.named_parameters() if not bool(torch.isfinite(p).all())]


def after_optimizer_step(self: Any) -> None:
    """sample-factory's step counter, then a divergence check of every weight."""
    _ORIGINAL_AFTER_STEP(self)
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
    return _ORIGINAL_SAVE_IMPL(self, name_prefix, name_suffix, keep_checkpoints, verbose)


def runner_progress(runner: Any) -> tuple[int, dict[str, float]]:
    """Env steps of policy 0 and the mean of each episode statistic (reward, CSR, avg_throughput, ...)
    over the runner's recent episodes, as its stats handlers keep them (pinned above)."""
    averages = {key: float(np.mean(per_policy[0])) for key, per_policy in runner.policy_avg_stats.items()
                if len(per_policy[0])}
    return int(runner.env_steps.get(0, 0)), averages


def install() -> None:
    """Replace the functions listed in the module docstring (idempotent)."""
    for module in (_model_utils, _shared_buffers, _batcher):
        module.get_rnn_size = get_rnn_size
    _learner.Learner.load_checkpoint = staticmethod(load_checkpoint)
    _learner.Learner._after_optimizer_step = after_optimizer_step
    _learner.Learner._save_impl = save_impl


def installed() -> bool:
    """True when every binding points at the replacement."""
    return (all(m.get_rnn_size is get_rnn_size for m in (_model_utils, _shared_buffers, _batcher))
            and _learner.Learner.__dict__["load_checkpoint"].__func__ is load_checkpoint
            and _learner.Learner._after_optimizer_step is after_optimizer_step
            and _learner.Learner._save_impl is save_impl)
