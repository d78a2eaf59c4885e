"""The torch-native batched environment: pogema 1.4.0's dynamics as tensor ops on CPU or GPU.

`TorchBatchedEnv` has the interface and row contract of
`envs.pogema_backend.PogemaBatchedEnv`; docs/torch_backend.md explains how
each pogema rule is reproduced and what it costs.
"""
from envs.torch_backend.env import TorchBatchedEnv

__all__ = ["TorchBatchedEnv"]
