"""Files the project writes: map collections as YAML, and the check that a directory takes files."""
from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Mapping

import yaml


class _GridDumper(yaml.SafeDumper):
    """Dumps multi-line strings (grids) as '|-' blocks, one row per line."""


_GridDumper.add_representer(
    str, lambda dumper, text: dumper.represent_scalar("tag:yaml.org,2002:str", text,
                                                      style="|" if "\n" in text else None))


def collection_yaml(grids: Mapping[str, str]) -> str:
    """The YAML text of a map collection (name -> grid, in the given order), as maps.registry reads it.

    >>> print(collection_yaml({"tiny": "..\\n.#"}), end="")
    tiny: |-
      ..
      .#
    """
    return yaml.dump(dict(grids), Dumper=_GridDumper, sort_keys=False, width=4096)


def unwritable(directory: Path) -> str | None:
    """Create `directory` if needed and write a probe file there; None when that works, else why not."""
    try:
        directory.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=directory, prefix=".write-probe-"):
            pass
    except OSError as err:
        return str(err.strerror or err)
    return None
