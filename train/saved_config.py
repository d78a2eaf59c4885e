"""`srmt_config.json`: the training config an experiment directory keeps, and the base of a resumed run.

Running the same command again continues the experiment: its saved config,
not the preset, is what the command line applies to (train/overrides.py).
Reading it upgrades the formats earlier versions wrote: a model section
without a `format_version` predates the memory modes and means memory
'stored' (`srmt.config.upgrade_saved`, the one place that knows the formats).
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from srmt.config import SAVED_VERSION, upgrade_saved
from train.config import TrainConfig, TrainConfigError

CONFIG_FILE = "srmt_config.json"
"""The saved training config inside an experiment directory."""


def saved_config(experiment_dir: Path) -> dict[str, Any] | None:
    """The config sections of an experiment directory's `srmt_config.json` as today's fields mean them,
    or None when it has none.

    Raises:
        TrainConfigError: the file cannot be read.
    """
    path = Path(experiment_dir) / CONFIG_FILE
    if not path.is_file():
        return None
    try:
        record = json.loads(path.read_text())
        config = record["config"]
        config["model"] = upgrade_saved(config.get("model", {}), record.get("format_version", 1))
        return config
    except (OSError, ValueError, KeyError) as err:
        raise TrainConfigError(f"cannot read {path}: {err}; fix or remove it, or use another --experiment") from err


def save_config(experiment_dir: Path, cfg: TrainConfig, command: list[str]) -> Path:
    """Write `cfg` and the command that made it as the experiment's `srmt_config.json` (atomically)."""
    record = {"format_version": SAVED_VERSION, "config": cfg.to_dict(), "command": ["srmt", "train", *command]}
    path = Path(experiment_dir) / CONFIG_FILE
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(record, indent=2) + "\n")
    os.replace(tmp, path)
    return path
