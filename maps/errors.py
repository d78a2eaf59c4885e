"""Errors raised by the maps package; all are ValueErrors."""


class MapError(ValueError):
    """Base class: bad map input (names, grids, collections, positions)."""


class UnknownMapError(MapError):
    """A map name (or name pattern) that no loaded collection defines."""


class MalformedMapError(MapError):
    """A grid string or a collection file whose content is invalid."""


class MapsDirError(MapError):
    """A maps directory or collection file that does not exist or cannot be read."""
