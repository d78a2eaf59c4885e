"""Encoder, gru / empty cores and heads against their definitions written out by hand."""

import subprocess
import sys
from pathlib import Path

import pytest
import torch
from torch.nn import functional as F

from srmt.blocks import mask_value
from srmt.config import ModelConfig
from srmt.core import EmptyCore, GRUCore, SRMTCore, make_core
from srmt.encoder import ResNetEncoder
from srmt.model import SRMTPolicy
from srmt.state import unpack_state

# numpy is not listed: torch itself imports it when it is installed.
FORBIDDEN = {"pogema", "sample_factory", "gymnasium", "envs", "agents", "train", "eval",
             "maps", "cli"}


@torch.no_grad()
def test_encoder_is_conv_resblocks_relu_linear_relu():
    cfg = ModelConfig(resnet_blocks=2, filters=4, hidden=8, heads=2)
    encoder = ResNetEncoder(cfg)
    obs = torch.randn(3, 3, 5, 5)
    x = F.conv2d(obs, encoder.conv.weight, encoder.conv.bias, padding=1)
    for block in encoder.blocks:
        y = F.conv2d(x.relu(), block.conv1.weight, block.conv1.bias, padding=1)
        x = x + F.conv2d(y.relu(), block.conv2.weight, block.conv2.bias, padding=1)
    expected = (x.relu().reshape(3, -1) @ encoder.linear.weight.T + encoder.linear.bias).relu()
    torch.testing.assert_close(encoder(obs), expected, atol=1e-6, rtol=0)
    assert encoder.out_size == 8 and encoder.linear.in_features == 4 * 25


@pytest.mark.parametrize("variant, cls", [
    ("srmt", SRMTCore), ("rmt", SRMTCore), ("attention", SRMTCore), ("gru", GRUCore),
    ("empty", EmptyCore),
])
def test_make_core_picks_the_variant_class(variant, cls):
    assert type(make_core(ModelConfig(variant=variant))) is cls


def test_srmt_core_rejects_non_transformer_variants():
    with pytest.raises(ValueError, match="variant='gru'"):
        SRMTCore(ModelConfig(variant="gru"))


@torch.no_grad()
def test_gru_core_carries_its_hidden_and_restarts_from_zero():
    cfg = ModelConfig(variant="gru", hidden=8, heads=2, gru_hidden=6)
    core = GRUCore(cfg)
    features = torch.randn(3, 4, 8)  # (T, B, H)
    state, hidden = torch.zeros(4, 7), torch.zeros(4, 6)
    for t in range(3):
        if t == 2:
            state[1], hidden[1] = 0.0, 0.0  # row 1 restarts
        out, state = core(features[t], state, num_agents=2)
        hidden = core.cell(features[t], hidden)
        assert torch.equal(out, hidden)
        assert torch.equal(unpack_state(state, cfg, 2).memory, hidden)
    assert state[:, -1].tolist() == [3, 1, 3, 3]


@torch.no_grad()
def test_empty_core_passes_features_through():
    cfg = ModelConfig(variant="empty")
    features = torch.randn(4, 16)
    out, state = EmptyCore(cfg)(features, torch.zeros(4, 1), num_agents=2)
    assert torch.equal(out, features) and state.tolist() == [[1.0]] * 4


@pytest.mark.parametrize("variant", ["srmt", "gru"])
@torch.no_grad()
def test_heads_read_the_core_output(variant):
    cfg = ModelConfig(variant=variant, gru_hidden=6)
    policy = SRMTPolicy(cfg)
    obs = torch.rand(4, 3, 5, 5)
    state = policy.initial_state(2, 4)
    logits, value, _ = policy(obs, state, 2)
    out, _ = policy.core(policy.encoder(obs), state, 2)
    assert out.shape == (4, cfg.core_out_size)
    torch.testing.assert_close(logits, policy.policy_head(out), atol=0, rtol=0)
    torch.testing.assert_close(value, policy.value_head(out)[:, 0], atol=0, rtol=0)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.float16])
def test_mask_value_is_finite_and_removes_keys_exactly(dtype):
    value = mask_value(dtype)
    scores = torch.tensor([[0.5, 3.0], [-2.0, 1.0]], dtype=dtype)
    scores = scores + torch.tensor([[0.0, value], [value, value]], dtype=dtype)
    weights = torch.softmax(scores, dim=-1)
    assert weights[0].tolist() == [1.0, 0.0]  # a masked key gets exactly zero weight
    assert torch.isfinite(weights).all()  # a fully masked row stays finite


@pytest.mark.slow  # starts a Python subprocess
def test_srmt_imports_only_torch_and_the_standard_library():
    code = ("import sys, srmt, srmt.params; "
            "print(sorted({m.split('.')[0] for m in sys.modules} & %r))" % FORBIDDEN)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True, cwd=Path(__file__).resolve().parents[1])
    assert result.stdout.strip() == "[]"
