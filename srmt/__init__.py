"""SRMT policy model: pure torch (encoder, shared recurrent memory core, heads)."""

from srmt.config import ModelConfig
from srmt.core import EmptyCore, GRUCore, SRMTCore, make_core
from srmt.encoder import ResNetEncoder
from srmt.model import SRMTPolicy
from srmt.rollout import unroll
from srmt.state import (StateLayout, StateView, initial_state, pack_state, state_layout,
                        state_size, unpack_state)

__all__ = [
    "ModelConfig", "SRMTPolicy", "ResNetEncoder", "SRMTCore", "GRUCore", "EmptyCore",
    "make_core", "StateLayout", "StateView", "state_layout", "state_size",
    "initial_state", "pack_state", "unpack_state", "unroll",
]
