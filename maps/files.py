"""Map collections as YAML files (the output-path checks every command uses: common/outputs.py)."""
from __future__ import annotations

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
