"""train/sf_compat.py: each adaptation of sample-factory internals, and a tripwire on the pinned sources."""
from __future__ import annotations

import argparse
import ast
import dataclasses
import functools
import json
from pathlib import Path

import numpy as np
import pytest
import torch

import importlib.metadata
import sample_factory
from envs.config import EnvConfig
from sample_factory.algo.learning import batcher, learner
from sample_factory.cfg.arguments import cfg_dict
from sample_factory.algo.utils import shared_buffers
from sample_factory.model import model_utils
from srmt.config import ModelConfig
from srmt.state import state_size
from train import sf_compat
from train.sf_settings import SRMTSettings


def test_pinned_sample_factory_version():
    assert importlib.metadata.version("sample-factory") == sf_compat.SF_VERSION


def test_pinned_sources_unchanged():
    """Fails when the installed sample-factory differs from the one the patches were written for."""
    assert sf_compat.check_pinned() == []


def test_tripwire_detects_a_change(monkeypatch):
    monkeypatch.setitem(sf_compat.PINNED, "sample_factory.algo.learning.learner.Learner._prepare_batch", "0" * 12)
    assert len(sf_compat.check_pinned()) == 1


def test_install_replaces_every_binding_idempotently():
    sf_compat.install()
    sf_compat.install()
    assert sf_compat.installed()
    for module in (model_utils, shared_buffers, batcher):
        assert module.get_rnn_size is sf_compat.get_rnn_size
    assert learner.Learner.load_checkpoint is sf_compat.load_checkpoint


def _sf_cfg(**extra):
    cfg = argparse.Namespace(use_rnn=False, rnn_size=512, rnn_num_layers=1, rnn_type="gru",
                             actor_critic_share_weights=True)
    for key, value in extra.items():
        setattr(cfg, key, value)
    return cfg


SETTINGS = SRMTSettings(EnvConfig(num_agents=2), ModelConfig.preset("bottleneck"), envs_per_batch=3, backend="torch")


def test_settings_ride_on_the_config_as_one_json_dict():
    """One attribute, `srmt`; sample-factory's runner json-dumps the whole config (Runner._save_cfg)."""
    cfg = _sf_cfg()
    SETTINGS.attach(cfg)
    assert [k for k in vars(cfg) if k.startswith("srmt")] == ["srmt"]
    assert SRMTSettings.of(cfg) == SETTINGS
    assert SRMTSettings.of(json.loads(json.dumps(cfg_dict(cfg)))) == SETTINGS  # config.json, read back
    assert SRMTSettings.of(_sf_cfg()) is None


def test_get_rnn_size_carries_the_srmt_state():
    cfg = _sf_cfg()
    SETTINGS.attach(cfg)
    expected = state_size(ModelConfig.preset("bottleneck"), 2)
    assert sf_compat.get_rnn_size(cfg) == SETTINGS.state_size == expected > 1
    assert sf_compat.get_rnn_size(dict(vars(cfg))) == expected


def test_get_rnn_size_defers_without_srmt_state():
    # sample-factory's own answer: 1 float when use_rnn=False, rnn_size when True
    assert sf_compat.get_rnn_size(_sf_cfg()) == 1
    assert sf_compat.get_rnn_size(_sf_cfg(use_rnn=True)) == 512
    stock = _sf_cfg(use_rnn=True)  # train/stock_peer.py: the settings without an SRMT model
    dataclasses.replace(SETTINGS, model=None).attach(stock)
    assert sf_compat.get_rnn_size(stock) == 512


@functools.cache
def _callers() -> dict[str, set[str]]:
    """marker -> qualified names of the sample-factory functions (outside its actor-critic classes) that
    call `forward_core` / pass `values_only=True`, read from its source (one pass)."""
    package = Path(sample_factory.__file__).parent
    found: dict[str, set[str]] = {marker: set() for marker in sf_compat.CALLERS}
    for path in package.rglob("*.py"):
        module = ".".join(path.relative_to(package.parent).with_suffix("").parts)
        if module == "sample_factory.model.actor_critic":
            continue  # sample-factory's own ActorCritic.forward, which SRMTActorCritic replaces
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.ClassDef):
                continue
            for function in (n for n in node.body if isinstance(n, ast.FunctionDef)):
                for call in (c for c in ast.walk(function) if isinstance(c, ast.Call)):
                    name = f"{module}.{node.name}.{function.name}"
                    if isinstance(call.func, ast.Attribute) and call.func.attr == "forward_core":
                        found["forward_core"].add(name)
                    if any(k.arg == "values_only" and isinstance(k.value, ast.Constant) and k.value.value is True
                           for k in call.keywords):
                        found["values_only=True"].add(name)
    return found


@pytest.mark.parametrize("marker", sorted(sf_compat.CALLERS))
def test_the_learner_is_the_only_caller_of_its_passes(marker):
    """train/sf_model.py tells the learner's passes from acting by entry point: forward_core and
    forward(values_only=True) are called by the learner alone."""
    assert _callers()[marker] == sf_compat.CALLERS[marker]


def test_load_checkpoint_reads_numpy_scalars_with_weights_only(tmp_path):
    path = tmp_path / "checkpoint_000000001_10.pth"
    torch.save({"model": {"w": torch.ones(2)}, "train_step": 1, "env_steps": 10,
                "best_performance": np.float64(0.5), "curr_lr": np.float32(1e-4)}, path)
    loaded = sf_compat.load_checkpoint([str(path)], "cpu")
    assert loaded["best_performance"] == 0.5 and torch.equal(loaded["model"]["w"], torch.ones(2))


def test_load_checkpoint_refuses_to_restart_silently(tmp_path):
    path = tmp_path / "checkpoint_000000002_20.pth"
    path.write_bytes(b"truncated")
    with pytest.raises(RuntimeError, match="cannot load checkpoint .*checkpoint_000000002_20.pth"):
        sf_compat.load_checkpoint([str(path)], "cpu")


def test_load_checkpoint_without_checkpoints():
    assert sf_compat.load_checkpoint([], "cpu") is None
