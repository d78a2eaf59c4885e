"""Errors raised for bad environment input, before anything reaches pogema."""


class EnvConfigError(ValueError):
    """An environment config or task that cannot be built; the message says how to fix it."""
