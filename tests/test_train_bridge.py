"""train/bridge/: the adaptations of sample-factory (installed by one call, never on import), a tripwire
per pinned internal, the learner's call sites, and the runner bookkeeping the progress line reads."""
from __future__ import annotations

import argparse
import ast
import dataclasses
import functools
import importlib.metadata
import json
import subprocess
import sys
import types
from pathlib import Path

import numpy as np
import pytest
import torch

import sample_factory
from envs.config import EnvConfig
from envs.torch_backend import TorchBatchedEnv
from sample_factory.algo.learning import batcher, learner
from sample_factory.algo.runners.runner import Runner
from sample_factory.algo.utils import shared_buffers
from sample_factory.algo.utils.misc import EPISODIC, LEARNER_ENV_STEPS
from sample_factory.cfg.arguments import cfg_dict
from sample_factory.model import model_utils
from srmt.config import ModelConfig
from srmt.state import state_size
from train.bridge import adaptations, pins
from train.bridge.runner import runner_progress
from train.bridge.settings import SRMTSettings

ROOT = Path(__file__).resolve().parents[1]


def test_pinned_sample_factory_version():
    assert importlib.metadata.version("sample-factory") == pins.SF_VERSION


@pytest.mark.parametrize("name", sorted(pins.PINNED))
def test_pinned_source_unchanged(name):
    """Fails when the installed sample-factory differs from the one the bridge was written against."""
    pin = pins.PINNED[name]
    assert pins.source_hash(pins.resolve(name)) == pin.source_hash, pin.why
    assert pin.why


def test_tripwire_detects_a_change(monkeypatch):
    name = "sample_factory.algo.learning.learner.Learner._prepare_batch"
    monkeypatch.setitem(pins.PINNED, name, pins.Pin("0" * 12, "test"))
    assert pins.check_pinned() == [f"{name}: source hash 131fad30b72a != pinned 000000000000"]


FRESH_PROCESS = """
import importlib, pickle, pkgutil, train
for module in pkgutil.walk_packages(train.__path__, "train."):
    importlib.import_module(module.name)
from train.bridge import adaptations
from train.bridge.registration import RegisteredFactory
before = adaptations.installed()
factory = pickle.dumps(RegisteredFactory())
still = adaptations.installed()
pickle.loads(factory)  # as sample-factory's spawned processes receive it
print(before, still, adaptations.installed())
"""


def test_adaptations_are_absent_until_installed():
    """In a fresh interpreter, importing every module of train/ changes nothing in sample-factory;
    unpickling the registered actor-critic factory (what a spawned process does) installs them all."""
    done = subprocess.run([sys.executable, "-c", FRESH_PROCESS], cwd=ROOT, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.split() == ["False", "False", "True"]


def test_install_replaces_every_binding_idempotently():
    adaptations.install_adaptations()
    adaptations.install_adaptations()
    assert adaptations.installed()
    for module in (model_utils, shared_buffers, batcher):
        assert module.get_rnn_size is adaptations.get_rnn_size
    assert learner.Learner.load_checkpoint is adaptations.load_checkpoint
    assert learner.Learner._after_optimizer_step is adaptations.after_optimizer_step
    assert learner.Learner._save_impl is adaptations.save_impl


def test_sample_factory_is_imported_only_in_the_bridge():
    """Every other module of the project reaches sample-factory through train/bridge/."""
    wrong = []
    packages = [init.parent for init in ROOT.glob("*/__init__.py") if init.parent.name != "tests"]
    for path in sorted(p for package in packages for p in package.rglob("*.py")):
        relative = path.relative_to(ROOT)
        if relative.parts[:2] == ("train", "bridge"):
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module] if isinstance(node, ast.ImportFrom) and node.module else []
            wrong += [f"{relative}:{node.lineno} {n}" for n in names
                      if n.split(".")[0] in ("sample_factory", "signal_slot")]
    assert wrong == []


def _sf_cfg(**extra):
    cfg = argparse.Namespace(use_rnn=False, rnn_size=512, rnn_num_layers=1, rnn_type="gru",
                             actor_critic_share_weights=True)
    for key, value in extra.items():
        setattr(cfg, key, value)
    return cfg


SETTINGS = SRMTSettings(EnvConfig(num_agents=2), ModelConfig.preset("bottleneck"), envs_per_batch=3, backend="torch")


def test_settings_ride_on_the_config_as_one_json_dict():
    """One attribute, `srmt`; sample-factory's runner json-dumps the whole config into config.json."""
    cfg = _sf_cfg()
    SETTINGS.attach(cfg)
    assert [k for k in vars(cfg) if k.startswith("srmt")] == ["srmt"]
    assert SRMTSettings.of(cfg) == SETTINGS
    assert SRMTSettings.of(json.loads(json.dumps(cfg_dict(cfg)))) == SETTINGS  # config.json, read back
    assert SRMTSettings.of(_sf_cfg()) is None


def test_a_shielded_run_builds_its_envs_through_the_shield():
    """`srmt train --shield pibt`: the settings carry the shield into every worker, whose env factory wraps
    the backend in envs.shielded.ShieldedEnv; without it the backend is the env."""
    from envs.shielded import ShieldedEnv
    from train.bridge.env import make_sf_env

    for shield, kind in ((None, TorchBatchedEnv), ("pibt", ShieldedEnv)):
        cfg = _sf_cfg(env_gpu_observations=False, actor_worker_gpus=[])
        settings = dataclasses.replace(SETTINGS, env=EnvConfig(map_name="bottleneck-3"), shield=shield)
        settings.attach(cfg)
        assert SRMTSettings.of(json.loads(json.dumps(cfg_dict(cfg)))) == settings
        env = make_sf_env("srmt", cfg)
        assert type(env.env) is kind
        env.reset()
        assert env.step(torch.zeros(env.num_agents, dtype=torch.long))[1].shape == (6,)


def test_get_rnn_size_carries_the_srmt_state():
    cfg = _sf_cfg()
    SETTINGS.attach(cfg)
    expected = state_size(ModelConfig.preset("bottleneck"), 2)
    assert adaptations.get_rnn_size(cfg) == SETTINGS.state_size == expected > 1
    assert adaptations.get_rnn_size(dict(vars(cfg))) == expected


def test_get_rnn_size_defers_without_srmt_state():
    # sample-factory's own answer: 1 float when use_rnn=False, rnn_size when True
    assert adaptations.get_rnn_size(_sf_cfg()) == 1
    assert adaptations.get_rnn_size(_sf_cfg(use_rnn=True)) == 512
    stock = _sf_cfg(use_rnn=True)  # train/stock_peer.py: the settings without an SRMT model
    dataclasses.replace(SETTINGS, model=None).attach(stock)
    assert adaptations.get_rnn_size(stock) == 512


@functools.cache
def _callers() -> dict[str, set[str]]:
    """marker -> qualified names of the sample-factory functions (outside its actor-critic classes) that
    call `forward_core` / pass `values_only=True`, read from its source (one pass)."""
    package = Path(sample_factory.__file__).parent
    found: dict[str, set[str]] = {marker: set() for marker in pins.CALLERS}
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


@pytest.mark.parametrize("marker", sorted(pins.CALLERS))
def test_the_learner_is_the_only_caller_of_its_passes(marker):
    """The actor-critic tells the learner's passes from acting by entry point: forward_core and
    forward(values_only=True) are called by the learner alone."""
    assert _callers()[marker] == pins.CALLERS[marker]


def test_progress_reads_the_runners_own_bookkeeping():
    """sample-factory's own handlers of learner env steps and episode statistics, then `runner_progress`."""
    runner = types.SimpleNamespace(env_steps={}, total_env_steps_since_resume=None, policy_avg_stats={},
                                   cfg=types.SimpleNamespace(stats_avg=4, num_policies=1))
    for steps in (256, 768):
        Runner._learner_steps_handler(runner, {LEARNER_ENV_STEPS: steps}, 0)
    for csr in ([0.0, 1.0], [1.0, 1.0]):  # the done rows of two env steps (BatchedVectorEnvRunner's reports)
        Runner._episodic_stats_handler(runner, {EPISODIC: {"reward": np.array(csr) * 2,
                                                           "metrics/CSR": np.array(csr)}}, 0)
    assert runner_progress(runner) == (768, {"reward": 1.5, "metrics/CSR": 0.75})
    Runner._episodic_stats_handler(runner, {EPISODIC: {"reward": np.array([4.0]), "metrics/CSR": np.array([1.0])}}, 0)
    assert runner_progress(runner) == (768, {"reward": 2.5, "metrics/CSR": 1.0})  # the newest stats_avg=4


def test_load_checkpoint_reads_numpy_scalars_with_weights_only(tmp_path):
    path = tmp_path / "checkpoint_000000001_10.pth"
    torch.save({"model": {"w": torch.ones(2)}, "train_step": 1, "env_steps": 10,
                "best_performance": np.float64(0.5), "curr_lr": np.float32(1e-4)}, path)
    loaded = adaptations.load_checkpoint([str(path)], "cpu")
    assert loaded["best_performance"] == 0.5 and torch.equal(loaded["model"]["w"], torch.ones(2))


def test_load_checkpoint_refuses_to_restart_silently(tmp_path):
    path = tmp_path / "checkpoint_000000002_20.pth"
    path.write_bytes(b"truncated")
    with pytest.raises(RuntimeError, match="cannot load checkpoint .*checkpoint_000000002_20.pth"):
        adaptations.load_checkpoint([str(path)], "cpu")


def test_load_checkpoint_without_checkpoints():
    assert adaptations.load_checkpoint([], "cpu") is None
