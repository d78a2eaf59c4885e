"""train/sf_compat.py: each adaptation of sample-factory internals, and a tripwire on the pinned sources."""
from __future__ import annotations

import argparse

import numpy as np
import pytest
import torch

import importlib.metadata
from sample_factory.algo.learning import batcher, learner
from sample_factory.algo.utils import shared_buffers
from sample_factory.model import model_utils
from train import sf_compat


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


def test_get_rnn_size_carries_the_srmt_state():
    assert sf_compat.get_rnn_size(_sf_cfg(srmt_state_size=177)) == 177
    assert sf_compat.get_rnn_size({"srmt_state_size": 33}) == 33


def test_get_rnn_size_defers_without_srmt_state():
    # sample-factory's own answer: 1 float when use_rnn=False, rnn_size when True
    assert sf_compat.get_rnn_size(_sf_cfg()) == 1
    assert sf_compat.get_rnn_size(_sf_cfg(use_rnn=True)) == 512


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
