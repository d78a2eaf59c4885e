"""The stock sample-factory peer of the training benchmark: its own conv + GRU model on our env."""
from __future__ import annotations

import torch
from sample_factory.model.actor_critic import ActorCriticSharedWeights, create_actor_critic
from sample_factory.model.encoder import ResnetEncoder
from sample_factory.model.model_utils import get_rnn_size

from train.bridge.env import make_sf_env
from train.overrides import build_config
from train.stock_peer import stock_sf_config


def test_stock_model_takes_our_windows_and_batch(tmp_path):
    cfg, _ = build_config(["--experiment", str(tmp_path / "e"), "--envs_per_batch", "4"])
    ns = stock_sf_config(cfg)
    assert (ns.use_rnn, ns.recurrence, ns.encoder_conv_architecture) == (True, 8, "resnet_impala")
    assert get_rnn_size(ns) == cfg.model.hidden  # the GRU hidden, not the SRMT state
    env = make_sf_env("srmt", ns)
    ac = create_actor_critic(ns, env.observation_space, env.action_space)
    assert type(ac) is ActorCriticSharedWeights  # sample-factory's own, not SRMTActorCritic
    assert type(ac.encoder.encoders["obs"]) is ResnetEncoder
    gru = ac.core.core
    assert type(gru) is torch.nn.GRU and (gru.input_size, gru.hidden_size) == (cfg.model.hidden, cfg.model.hidden)
    obs, _ = env.reset()
    rows = env.num_agents  # sample-factory's name for the E x A rows of one env object
    out = ac({"obs": obs["obs"].float()}, torch.zeros(rows, get_rnn_size(ns)))
    assert out["actions"].shape == (rows,) and out["new_rnn_states"].shape == (rows, cfg.model.hidden)
