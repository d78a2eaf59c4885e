"""Model configuration: one frozen dataclass, two presets, closed validation.

>>> cfg = ModelConfig.preset("bottleneck", variant="rmt")
>>> (cfg.hidden, cfg.heads, cfg.obs_size, cfg.position_table_size)
(16, 4, 5, 10)
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any, Literal, get_args

Variant = Literal["srmt", "rmt", "attention", "empty", "gru"]
AttentionMask = Literal["causal", "full"]
MemoryMode = Literal["stored", "rebuilt", "learned"]
PoolKind = Literal["global", "local"]

VARIANTS: tuple[str, ...] = get_args(Variant)
ATTENTION_MASKS: tuple[str, ...] = get_args(AttentionMask)
MEMORY_MODES: tuple[str, ...] = get_args(MemoryMode)
POOL_KINDS: tuple[str, ...] = get_args(PoolKind)
TRANSFORMER_VARIANTS: tuple[str, ...] = ("srmt", "rmt", "attention")


@dataclass(frozen=True)
class ModelConfig:
    """Sizes and switches of the SRMT policy (defaults = the `bottleneck` preset)."""

    variant: Variant = "srmt"
    """core: srmt (memory + shared pool + history), rmt (memory + history, no pool),
    attention (history only), empty (encoder -> heads), gru (GRUCell instead of attention)"""
    hidden: int = 16
    """H: encoder output size and transformer width (the memory size of srmt/rmt)"""
    heads: int = 4
    """attention heads; must divide `hidden` for the transformer variants"""
    blocks: int = 1
    """transformer blocks (GPT-2 style, pre-LayerNorm)"""
    resnet_blocks: int = 1
    """residual blocks of the encoder (0 allowed: conv -> ReLU -> linear)"""
    filters: int = 8
    """channels of every encoder convolution"""
    obs_radius: int = 2
    """r: the observation window is (2r+1) x (2r+1)"""
    history: int = 8
    """K: past encoder outputs each agent attends to (0 allowed)"""
    attention_mask: AttentionMask = "causal"
    """self-attention mask: causal (reference code, GPT-2 default) or full (paper text)"""
    num_actions: int = 5
    """policy logits: stay, up, down, left, right"""
    gru_hidden: int = 16
    """hidden size of the `gru` variant (its state and the input of its heads)"""
    memory: MemoryMode = "learned"
    """how the learner treats the recurrent state (docs/model.md, "Memory modes"):
    learned (default: no pool in the state, each step's pool is rebuilt from the own
    memories of the environment's agents, and the learner backpropagates through the
    state over the rollout, across agents: the memory head is trained), rebuilt (the
    same without the gradients through memory), stored (the reference: every row stores
    its environment's pool, rows are replayed independently, memories are inputs)"""
    pool: PoolKind = "global"
    """which memories an agent's cross-attention reads: global (every agent of its environment,
    as published: O(A^2) per step) or local (its pool_neighbours nearest agents within
    pool_radius cells, itself included: O(A x K); needs the agents' positions, srmt/neighbours.py)"""
    pool_neighbours: int = 16
    """K of the local pool: memories each agent reads at most, its own included"""
    pool_radius: int = 5
    """Chebyshev radius in cells of the local pool's search window"""
    pool_gate: bool = False
    """srmt only: the pool read enters the agent's stream as x + g(x) * LN(read), a per-channel gate that
    depends on the reader, on a read normalised to unit spread (docs/model.md, "Gated pool read");
    False: x + read, as published"""

    def __post_init__(self) -> None:
        errors = []
        if self.variant not in VARIANTS:
            errors.append(f"variant={self.variant!r} is not one of {VARIANTS}")
        if self.attention_mask not in ATTENTION_MASKS:
            errors.append(f"attention_mask={self.attention_mask!r} is not one of {ATTENTION_MASKS}")
        if self.memory not in MEMORY_MODES:
            errors.append(f"memory={self.memory!r} is not one of {MEMORY_MODES}")
        if self.pool not in POOL_KINDS:
            errors.append(f"pool={self.pool!r} is not one of {POOL_KINDS}")
        elif self.pool == "local" and self.variant != "srmt":
            errors.append(f"pool='local' needs variant='srmt' (the only variant with a shared pool), "
                          f"got variant={self.variant!r}")
        elif self.pool == "local" and self.memory == "stored":
            errors.append("pool='local' needs memory='rebuilt' or 'learned': memory='stored' keeps all A "
                          "memories in every state row, which is what a local pool avoids")
        if not isinstance(self.pool_gate, bool):
            errors.append(f"pool_gate={self.pool_gate!r} must be True or False")
        elif self.pool_gate and self.variant != "srmt":
            errors.append(f"pool_gate=True gates the shared pool's read and needs variant='srmt' (the only "
                          f"variant with a pool), got variant={self.variant!r}; set pool_gate=False")
        minimum = {"hidden": 1, "heads": 1, "blocks": 1, "resnet_blocks": 0, "filters": 1,
                   "obs_radius": 0, "history": 0, "num_actions": 1, "gru_hidden": 1,
                   "pool_neighbours": 1, "pool_radius": 0}
        for name, low in minimum.items():
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < low:
                errors.append(f"{name}={value!r} must be an int >= {low}")
        if (self.variant in TRANSFORMER_VARIANTS and not errors
                and self.hidden % self.heads != 0):
            errors.append(f"hidden={self.hidden} must be divisible by heads={self.heads} "
                          f"for variant={self.variant!r}")
        if errors:
            raise ValueError("invalid ModelConfig: " + "; ".join(errors))

    # Derived sizes and switches (properties, never stored fields).
    @property
    def obs_size(self) -> int:
        """Side of the observation window, 2r+1."""
        return 2 * self.obs_radius + 1

    @property
    def uses_attention(self) -> bool:
        """True for the transformer variants (srmt, rmt, attention)."""
        return self.variant in TRANSFORMER_VARIANTS

    @property
    def uses_memory(self) -> bool:
        """True when each agent carries an own memory token (srmt, rmt)."""
        return self.variant in ("srmt", "rmt")

    @property
    def uses_pool(self) -> bool:
        """True when the core cross-attends to the environment's shared memory pool."""
        return self.variant == "srmt"

    @property
    def stores_pool(self) -> bool:
        """True when every state row holds its environment's pool (srmt with memory='stored')."""
        return self.uses_pool and self.memory == "stored"

    @property
    def local_pool(self) -> bool:
        """True when each agent reads only its nearest agents' memories (pool='local')."""
        return self.uses_pool and self.pool == "local"

    @property
    def position_table_size(self) -> int:
        """Rows of the position table: [memory ;] K history slots ; current obs."""
        if not self.uses_attention:
            return 0
        return self.history + 1 + int(self.uses_memory)

    @property
    def core_out_size(self) -> int:
        """Size of the features the policy and value heads read."""
        return self.gru_hidden if self.variant == "gru" else self.hidden

    @classmethod
    def preset(cls, name: str, **overrides: Any) -> ModelConfig:
        """A published model size (MODEL_SIZES) with optional field overrides."""
        if name not in MODEL_SIZES:
            raise ValueError(f"preset={name!r} is not one of {tuple(MODEL_SIZES)}")
        return cls.from_dict({**MODEL_SIZES[name], **overrides})

    def to_dict(self) -> dict[str, Any]:
        """Plain dict of all fields (JSON-serialisable)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> ModelConfig:
        """Build from a dict; unknown keys raise ValueError, missing keys take the defaults (a saved
        config of an older format is upgraded first: `upgrade_saved`)."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"unknown ModelConfig key(s) {unknown}; allowed: {sorted(known)}")
        return cls(**values)


SAVED_VERSION = 2
"""Format version of a saved model config (policy files' `format_version`, srmt_config.json's).
1: written before the `memory` field existed, when every policy used the reference's 'stored'
memory; 2: the same fields, `memory` always written."""


def upgrade_saved(values: dict[str, Any], version: int) -> dict[str, Any]:
    """A saved model config of format `version` as today's fields mean it (version 1 without
    `memory` meant 'stored')."""
    if version not in range(1, SAVED_VERSION + 1):
        raise ValueError(f"model config format version {version!r} is not one of 1..{SAVED_VERSION}")
    return {"memory": "stored", **values} if version == 1 else dict(values)

MODEL_SIZES: dict[str, dict[str, Any]] = {
    "bottleneck": dict(hidden=16, heads=4, blocks=1, resnet_blocks=1, filters=8,
                       obs_radius=2, history=8, memory="learned"),
    "lifelong": dict(hidden=512, heads=8, blocks=1, resnet_blocks=8, filters=64,
                     obs_radius=5, history=8, memory="learned"),
}
"""Model sizes by name (`ModelConfig.preset`); the training recipes are train/presets.py TRAINING_PRESETS."""
