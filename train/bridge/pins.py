"""The sample-factory internals the bridge depends on, each pinned by a hash of its source.

sample-factory's version is pinned (pyproject.toml); these hashes say which
functions to re-read when it changes: `check_pinned()` names every one whose
source differs, and tests/test_train_bridge.py has one test per pin. A
function is pinned when the bridge replaces it (adaptations.py), calls it, or
writes what it reads, or when a rule the memory's way rests on (the package's
first page) lives in it and no test run would notice a change. Who calls the
learner's passes is read from sample-factory's source instead (`CALLERS`), and
the episode statistics and the progress line's bookkeeping are run as they are
by tests, so none of those is pinned.
"""
from __future__ import annotations

import hashlib
import importlib
import inspect
from typing import Any, NamedTuple

from train.bridge.adaptations import ORIGINALS

SF_VERSION = "2.1.1"
"""The sample-factory release the bridge is written against."""


class Pin(NamedTuple):
    source_hash: str
    """first 12 hex digits of the sha256 of the function's source (`source_hash`)"""
    why: str
    """what the bridge depends on there"""


_LEARNER = "sample_factory.algo.learning.learner.Learner"
PINNED: dict[str, Pin] = {
    # replaced (adaptations.py)
    "sample_factory.model.model_utils.get_rnn_size": Pin(
        "43a273aee245", "replaced: sizes rnn_states to the SRMT state, deferring to it without an SRMT model"),
    f"{_LEARNER}.load_checkpoint": Pin(
        "de204fdd0f6a", "replaced: reads checkpoints with weights_only and raises instead of restarting"),
    f"{_LEARNER}._after_optimizer_step": Pin(
        "e1d296189983", "wrapped: the divergence check runs after its step counter"),
    f"{_LEARNER}._save_impl": Pin(
        "aa5c738af2ff", "wrapped: refuses non-finite weights, then saves as it does"),
    # called, or written for
    "sample_factory.algo.runners.runner.Runner._stop_training": Pin(
        "c69e9933211d", "called: Ctrl-C / budget stop saves a checkpoint and stops, as train_for_env_steps does"),
    f"{_LEARNER}.init": Pin(
        "09c61110531e", "the warm start's step-0 checkpoint holds the Adam this builds (checkpoints.py)"),
    f"{_LEARNER}._load_state": Pin(
        "9f49a655d2a0", "the warm start's step-0 checkpoint has the keys this reads (checkpoints.py)"),
    # the memory's way (train/bridge/__init__.py)
    "sample_factory.algo.sampling.batched_sampling.BatchedVectorEnvRunner.advance_rollouts": Pin(
        "71c161ab974d", "step 2: zeroes the rnn_states rows that are done (the reset of memory and history)"),
    "sample_factory.algo.utils.shared_buffers.BufferMgr.__init__": Pin(
        "db0fb68dbc6b", "steps 1-3: each sampling block is one whole env object in the trajectory buffer"),
    "sample_factory.algo.learning.batcher.Batcher._maybe_enqueue_new_training_batches": Pin(
        "e1190f71addd", "step 4: trajectories are copied into a batch whole and in order"),
    f"{_LEARNER}._prepare_batch": Pin(
        "131fad30b72a", "step 5: the batch is flattened [trajectory, step]"),
    f"{_LEARNER}._get_minibatches": Pin(
        "25aeb6863783", "step 6: without shuffling, minibatches are contiguous slices of the batch"),
}
"""Qualified name -> its pinned source hash and why it is pinned."""

CALLERS: dict[str, set[str]] = {
    "forward_core": {f"{_LEARNER}._calculate_losses"},
    "values_only=True": {f"{_LEARNER}._prepare_batch"},
}
"""Where sample-factory (outside its own actor-critic classes) calls the actor-critic's `forward_core`, and
passes `values_only=True` to its forward: the learner's passes. Every other forward is acting (the
inference worker). The actor-critic relies on it; tests/test_train_bridge.py reads every call."""


def source_hash(obj: Any) -> str:
    """First 12 hex digits of the sha256 of an object's source code."""
    return hashlib.sha256(inspect.getsource(obj).encode()).hexdigest()[:12]


def resolve(qualified: str) -> Any:
    """sample-factory's own object named by a dotted path (the original of a replaced function)."""
    if qualified in ORIGINALS:
        return ORIGINALS[qualified]
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
    """Names of pinned functions whose source changed (empty list: all as pinned)."""
    return [f"{name}: source hash {source_hash(resolve(name))} != pinned {pin.source_hash}"
            for name, pin in PINNED.items() if source_hash(resolve(name)) != pin.source_hash]
