"""Policy files: one trained SRMTPolicy with everything needed to run it again.

A policy file is a `torch.save` of a plain dict, readable with
`torch.load(weights_only=True)` (tensors and primitive types only, no pickled
classes):

    {"format": "srmt-policy", "format_version": 2,   # 1: model_config may lack `memory` (srmt.config.upgrade_saved)
     "model_config": ModelConfig.to_dict(),
     "env_config":   dict,   # the environment it was trained on (EnvConfig.to_dict())
     "meta":         dict,   # free-form: env steps, reward scheme, git commit, date ...
     "state_dict":   {name: tensor}}

>>> import tempfile, os
>>> from srmt import ModelConfig, SRMTPolicy
>>> cfg = ModelConfig.preset("bottleneck")
>>> path = os.path.join(tempfile.mkdtemp(), "policy.pt")
>>> _ = save_policy(path, SRMTPolicy(cfg), cfg, {"map_name": "bottleneck-8"}, {"env_steps": 0})
>>> loaded = load_policy(path, expect={"variant": "srmt"})
>>> loaded.model_config == cfg, loaded.meta["env_steps"]
(True, 0)

Pure torch: no pogema, no sample-factory. Training checkpoints of
sample-factory are a different format; train/ exports them with `save_policy`.
"""

from __future__ import annotations

import math
import os
import pickle
import re
import tempfile
import zipfile
from pathlib import Path
from typing import Any, Mapping, NamedTuple

import torch
from torch import nn

from srmt.config import SAVED_VERSION, ModelConfig, upgrade_saved
from srmt.model import SRMTPolicy

FORMAT = "srmt-policy"
FORMAT_VERSION = SAVED_VERSION
"""Bumped on any incompatible change of the payload or its model config; readers accept only versions
they know (2: the model config always names its `memory`; 1: it may not, and then meant 'stored')."""
SUPPORTED_VERSIONS = (1, 2)


class CheckpointError(ValueError):
    """A policy file that cannot be used; the message names the file and the fix."""


class LoadedPolicy(NamedTuple):
    """What `load_policy` returns."""

    model: SRMTPolicy
    """the policy in eval mode, on the requested device"""
    model_config: ModelConfig
    env_config: dict
    """the training environment's config as saved (plain dict)"""
    meta: dict


def _check_plain(value: Any, where: str) -> None:
    """Reject anything `torch.load(weights_only=True)` or JSON could not read back."""
    if value is None or isinstance(value, (bool, int, str)):
        return
    if isinstance(value, float):
        if not math.isfinite(value):
            raise CheckpointError(f"{where}={value!r}: only finite floats can be saved")
        return
    if isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            _check_plain(item, f"{where}[{i}]")
        return
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise CheckpointError(f"{where} has a non-string key {key!r}; use str keys")
            _check_plain(item, f"{where}[{key!r}]")
        return
    raise CheckpointError(
        f"{where} is a {type(value).__name__}; policy files hold only None, bool, int, float, str, "
        "list, tuple and dict (convert it, e.g. EnvConfig.to_dict(), str(path))")


def save_policy(path: str | os.PathLike, model: nn.Module, model_config: ModelConfig,
                env_config: Mapping[str, Any] | None = None, meta: Mapping[str, Any] | None = None) -> Path:
    """Write a policy file atomically (a temporary file renamed into place).

    Args:
        path: destination; parent directories are created.
        model: an SRMTPolicy built from `model_config` (its weights are saved on CPU).
        model_config: the model's config; must equal `model.cfg` when the model has one.
        env_config: the training environment (e.g. `EnvConfig.to_dict()`), plain types only.
        meta: free-form provenance (env steps, reward, commit ...), plain types only.

    Returns:
        The path written.

    Raises:
        CheckpointError: config/model mismatch, or values that are not plain types.
    """
    if not isinstance(model_config, ModelConfig):
        raise CheckpointError(f"model_config must be a ModelConfig, got {type(model_config).__name__}")
    own = getattr(model, "cfg", None)
    if isinstance(own, ModelConfig) and own != model_config:
        raise CheckpointError(f"model_config does not describe the model: {_config_diff(own, model_config)}")
    env_config, meta = dict(env_config or {}), dict(meta or {})
    _check_plain(env_config, "env_config")
    _check_plain(meta, "meta")
    state = {name: t.detach().to("cpu").clone() for name, t in model.state_dict().items()}
    _check_state_dict(state, model_config, "the model given to save_policy")
    payload = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "model_config": model_config.to_dict(),
        "env_config": env_config,
        "meta": meta,
        "state_dict": state,
    }
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save(payload, f)
        os.chmod(tmp, 0o644)  # mkstemp creates 0600; a policy file is meant to be shared
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def _config_diff(a: ModelConfig, b: ModelConfig) -> str:
    da, db = a.to_dict(), b.to_dict()
    return ", ".join(f"{k}: {da[k]!r} vs {db[k]!r}" for k in da if da[k] != db[k])


def non_finite(state: Mapping[str, Any]) -> list[str]:
    """Names of the floating-point tensors of a state dict that hold NaN or inf."""
    return sorted(name for name, t in state.items()
                  if isinstance(t, torch.Tensor) and t.is_floating_point() and not bool(torch.isfinite(t).all()))


def _check_state_dict(state: Mapping[str, torch.Tensor], cfg: ModelConfig, source: str) -> None:
    """Raise CheckpointError naming every missing / unexpected key and shape mismatch."""
    expected = SRMTPolicy(cfg).state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    wrong = []
    for name in sorted(set(expected) & set(state)):
        got = state[name]
        if not isinstance(got, torch.Tensor):
            wrong.append(f"{name}: not a tensor ({type(got).__name__})")
        elif tuple(got.shape) != tuple(expected[name].shape):
            wrong.append(f"{name}: shape {tuple(got.shape)}, config needs {tuple(expected[name].shape)}")
    problems = []
    if missing:
        problems.append(f"missing keys {_short(missing)}")
    if unexpected:
        problems.append(f"unexpected keys {_short(unexpected)}")
    if wrong:
        problems.append("shape mismatches " + _short(wrong))
    bad = non_finite(state)
    if bad:
        raise CheckpointError(f"{source} holds non-finite weights (NaN or inf) in {_short(bad)}: the training "
                              "diverged; use an earlier checkpoint, or retrain with a smaller learning rate")
    if problems:
        raise CheckpointError(
            f"{source}: the weights do not match its model_config (variant={cfg.variant!r}, "
            f"hidden={cfg.hidden}, ...): " + "; ".join(problems))


def _short(items: list[str], limit: int = 6) -> str:
    more = f" and {len(items) - limit} more" if len(items) > limit else ""
    return "[" + ", ".join(items[:limit]) + "]" + more


def _first_line(err: BaseException) -> str:
    text = re.sub(r"\x1b\[[0-9;]*m", "", str(err)).strip()
    return (text.splitlines()[0][:200] if text else "") or type(err).__name__


def read_policy_file(path: str | os.PathLike) -> dict:
    """The validated payload dict of a policy file (weights stay on CPU, no model built).

    Raises:
        CheckpointError: missing, unreadable, truncated or corrupt file, not a
            policy file, or an unsupported format version.
    """
    path = Path(path).expanduser()
    if not path.exists():
        raise CheckpointError(f"checkpoint {path} does not exist; pass the path of a policy file "
                              "written by save_policy (e.g. `srmt train` exports one)")
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} is not a file")
    if not zipfile.is_zipfile(path):
        raise CheckpointError(f"checkpoint {path} is corrupt or truncated ({path.stat().st_size} bytes, "
                              "not a torch zip archive); re-export or re-download it")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        if "weights_only" not in str(err).lower():
            raise CheckpointError(f"checkpoint {path} is corrupt or truncated: {_first_line(err)}; "
                                  "re-export or re-download it") from err
        found = re.search(r"Unsupported global: GLOBAL ([\w.]+)", str(err))
        what = f"e.g. {found.group(1)}" if found else _first_line(err)
        raise CheckpointError(
            f"checkpoint {path} is not a srmt policy file: it contains Python objects other than tensors "
            f"and plain types ({what}); if it is a sample-factory training "
            "checkpoint, export it with save_policy first") from err
    except Exception as err:  # damaged archives fail in many ways (RuntimeError, EOFError, IndexError ...)
        raise CheckpointError(f"checkpoint {path} is corrupt or truncated: {_first_line(err)}; "
                              "re-export or re-download it") from err
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        hint = ""
        if isinstance(payload, dict) and "model" in payload and "train_step" in payload:
            hint = " (it looks like a sample-factory training checkpoint: export it with save_policy)"
        elif isinstance(payload, dict) and payload and all(isinstance(v, torch.Tensor) for v in payload.values()):
            hint = " (it is a bare state_dict without model_config: save it with save_policy)"
        raise CheckpointError(f"checkpoint {path} is not a srmt policy file (no format={FORMAT!r} marker){hint}")
    version = payload.get("format_version")
    if version not in SUPPORTED_VERSIONS:
        raise CheckpointError(f"checkpoint {path} has format_version={version!r}; this srmt reads "
                              f"{list(SUPPORTED_VERSIONS)}: update srmt or re-export the policy")
    for key, kind in (("model_config", dict), ("env_config", dict), ("meta", dict), ("state_dict", dict)):
        if not isinstance(payload.get(key), kind):
            raise CheckpointError(f"checkpoint {path} is damaged: {key!r} is missing or not a {kind.__name__}")
    return payload


def load_policy(path: str | os.PathLike, device: str | torch.device = "cpu",
                expect: ModelConfig | Mapping[str, Any] | None = None) -> LoadedPolicy:
    """Load a policy file (weights_only) and rebuild its model.

    Args:
        path: the policy file.
        device: where the model goes ("cpu", "cuda", "cuda:1" ...).
        expect: config the caller needs: a full ModelConfig or some of its fields
            (e.g. {"variant": "srmt", "obs_radius": 2}); any difference is an error.

    Returns:
        LoadedPolicy(model in eval mode, model_config, env_config, meta).

    Raises:
        CheckpointError: see `read_policy_file`; also an invalid model_config,
            weights that do not match it, or a config other than `expect`.
    """
    payload = read_policy_file(path)
    try:
        cfg = ModelConfig.from_dict(upgrade_saved(payload["model_config"], payload["format_version"]))
    except (TypeError, ValueError) as err:
        raise CheckpointError(f"checkpoint {path}: invalid model_config: {err}") from err
    if expect is not None:
        wanted = expect.to_dict() if isinstance(expect, ModelConfig) else dict(expect)
        have = cfg.to_dict()
        unknown = sorted(set(wanted) - set(have))
        if unknown:
            raise CheckpointError(f"expected config has unknown ModelConfig keys {unknown}")
        diff = [f"{k}={have[k]!r} (expected {wanted[k]!r})" for k in wanted if have[k] != wanted[k]]
        if "memory" in wanted and have["memory"] != wanted["memory"]:
            raise CheckpointError(f"checkpoint {path} was trained in memory mode {have['memory']!r}, not "
                                  f"{wanted['memory']!r} (its weights fit both, its recurrent state and learner "
                                  "do not): use the policy in its own mode or train one in the other")
        if diff:
            raise CheckpointError(f"checkpoint {path} is a policy of another variant/size: " + ", ".join(diff))
    _check_state_dict(payload["state_dict"], cfg, f"checkpoint {path}")
    model = SRMTPolicy(cfg)
    model.load_state_dict(payload["state_dict"], strict=True)
    try:
        model = model.to(device)
    except (RuntimeError, AssertionError) as err:
        raise CheckpointError(f"cannot move the policy to device {str(device)!r}: {err}") from err
    model.eval()
    return LoadedPolicy(model, cfg, payload["env_config"], payload["meta"])
