"""Environments: config validation, POGEMA construction, observation/reward shaping, batched envs."""
