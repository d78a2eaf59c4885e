"""Two memory variants (issue 34): the gated pool read (`ModelConfig.pool_gate`, srmt/blocks.py PoolGate) and
the intent loss (`srmt imitate --intent-loss`, srmt/intent.py): sizes, the default path unchanged, replay,
gradients, a tiny imitation run, and the refusals."""
from __future__ import annotations

import pytest
import torch

from cli.main import main as srmt
from envs.config import EnvConfig
from srmt.blocks import Block
from srmt.checkpoint import load_policy, save_policy
from srmt.config import MEMORY_MODES, ModelConfig
from srmt.intent import IntentHead, intent_loss, next_moves
from srmt.model import SRMTPolicy
from srmt.params import count_intent_head, count_parameters
from srmt.rollout import unroll, unroll_memories
from srmt.state import state_size
from train.config import TrainConfigError
from train.imitation import Collector, ImitationConfig, check_intent_loss, imitate, learn
from train.overrides import build_config
from train.presets import preset_sections

from test_memory_modes import AGENTS, ENVS, STEPS, acted

GRID = "........\n..#..#..\n........\n.#....#.\n........\n..#..#..\n........"
ENV = EnvConfig(map_name=None, grid=GRID, num_agents=6, obs_radius=2, on_target="restart",
                collision_system="soft", reward="directional", max_episode_steps=32)
PER_ROLLOUT = 4 * 6 * 4
"""Imitation: 4 envs x 6 agents x 4 steps."""


# ---- sizes --------------------------------------------------------------------------------------------

def test_the_gate_adds_a_layernorm_and_a_linear_per_block():
    # bottleneck (H = 16): ln_read 2 x 16 + gate 16 x 16 + 16 = 304 on top of the 9,558 of the published model
    counts = count_parameters(SRMTPolicy(ModelConfig.preset("bottleneck", pool_gate=True)))
    assert counts == {
        "total": 9862, "position_table": 160, "without_position_table": 9702,
        "encoder": 4608, "core": 5152, "policy_head": 85, "value_head": 17,
        "core.wpe": 160, "core.blocks": 4704, "core.ln_f": 32, "core.memory_head": 256,
    }
    # lifelong (H = 512): 1,024 + 262,656 = 263,680 on top of 9,033,478; two blocks: one gate each
    assert count_parameters(SRMTPolicy(ModelConfig.preset("lifelong", pool_gate=True)))["total"] == 9_297_158
    lifelong_cpu = preset_sections("lifelong-cpu")["model"]  # hidden 32: + 2 x 32 + 32 x 32 + 32 = 1,120
    totals = [count_parameters(SRMTPolicy(ModelConfig.from_dict({**lifelong_cpu, "pool_gate": gate})))["total"]
              for gate in (False, True)]
    assert totals == [50_998, 52_118]
    two = count_parameters(SRMTPolicy(ModelConfig.preset("bottleneck", blocks=2, pool_gate=True)))
    plain = count_parameters(SRMTPolicy(ModelConfig.preset("bottleneck", blocks=2)))
    assert two["core.blocks"] - plain["core.blocks"] == 2 * 304


def test_the_intent_head_is_moves_x_actions_x_hidden_plus_one():
    assert count_intent_head(ModelConfig.preset("bottleneck"), 3) == 3 * 5 * 17 == 255
    assert count_intent_head(ModelConfig.preset("lifelong", hidden=32, heads=4), 3) == 3 * 5 * 33 == 495
    assert count_intent_head(ModelConfig.preset("lifelong"), 3) == 3 * 5 * 513 == 7695
    head = IntentHead(ModelConfig.preset("bottleneck"), moves=2)
    assert tuple(head(torch.zeros(3, 4, 6, 16)).shape) == (3, 4, 6, 2, 5)


def test_the_gate_keeps_every_shape_and_state_size():
    cfg = ModelConfig.preset("bottleneck", pool_gate=True)
    policy = SRMTPolicy(cfg)
    logits, value, state = policy(torch.zeros(6, 3, 5, 5), policy.initial_state(3, 6), num_agents=3)
    assert (tuple(logits.shape), tuple(value.shape), tuple(state.shape)) == ((6, 5), (6,), (6, 145))
    assert state_size(cfg, 3) == state_size(ModelConfig.preset("bottleneck"), 3)


# ---- the default path is the one before the switches ---------------------------------------------------

def _act(policy: SRMTPolicy, agents: int = 3, envs: int = 2, steps: int = 5, seed: int = 11):
    """Logits and values of the last of `steps` grouped steps on random {-1, 0, 1} observations; env 0
    restarts after step 2."""
    cfg, g = policy.cfg, torch.Generator().manual_seed(seed)
    state = policy.initial_state(agents, envs * agents)
    with torch.no_grad():
        for t in range(steps):
            obs = torch.randint(-1, 2, (envs * agents, 3, cfg.obs_size, cfg.obs_size), generator=g).float()
            logits, values, state = policy(obs, state, agents)
            if t == 2:
                state[:agents] = 0.0
    return logits, values


# Recorded with the code before pool_gate and the intent head existed (commit 8a11710); bit-identical there
# and then on this machine, within 1e-6 here so that another CPU's float rounding does not fail it.
RECORDED = {
    "seeded": ([0.86178541, -0.37790635, 0.2383683, -0.86135852, 0.57394326],
               [-0.59242857, 0.28045717, 0.66888177, 0.14360985, 0.17520252],
               [-0.1841644, -0.24822319, 0.062643483, 0.19112799, -0.061500281, 0.32352433]),
    "bottleneck_srmt": ([0.31439969, -4.9088216, 2.4399915, 4.7749162, -5.1082306],
                        [-0.95917273, 6.6597948, -6.7468052, 3.7885854, -4.4914951],
                        [-0.48136356, 0.4929812, 0.2206713, -0.04658705, -0.36935231, -0.64764166]),
    "lifelong_srmt": ([-2.5621636, 2.564899, 0.47664216, -1.6721581, -0.11523755],
                      [-1.6593887, 0.33494195, -1.5434052, 3.3343737, -3.7512066],
                      [0.61232841, -0.14902277, -0.0034022331, -0.50251609, -0.27256608, 0.29701084]),
}


@pytest.mark.parametrize("name", list(RECORDED))
def test_the_default_gives_the_outputs_recorded_before_the_switches(name):
    if name == "seeded":
        torch.manual_seed(3)
        policy = SRMTPolicy(ModelConfig.preset("bottleneck"))
    else:
        loaded = load_policy(f"agents/pretrained/{name}.pt")
        assert loaded.model_config.pool_gate is False  # files without the field load without the gate
        policy = loaded.model
    assert not any("pool_gate" in key for key in policy.state_dict())
    logits, values = _act(policy)
    first, last, recorded_values = RECORDED[name]
    torch.testing.assert_close(logits[0], torch.tensor(first), rtol=0, atol=1e-6)
    torch.testing.assert_close(logits[-1], torch.tensor(last), rtol=0, atol=1e-6)
    torch.testing.assert_close(values, torch.tensor(recorded_values), rtol=0, atol=1e-6)


def test_the_gated_model_is_another_function():
    torch.manual_seed(3)
    gated = SRMTPolicy(ModelConfig.preset("bottleneck", pool_gate=True))
    torch.manual_seed(3)
    plain = SRMTPolicy(ModelConfig.preset("bottleneck"))
    # the encoder is made before the core: the same weights; the gate changes what the policy computes
    assert all(torch.equal(a, b) for a, b in zip(gated.encoder.parameters(), plain.encoder.parameters()))
    assert (_act(gated)[0] - _act(plain)[0]).abs().max() > 1e-3


# ---- the gated read -----------------------------------------------------------------------------------

def test_the_gated_read_is_sigmoid_gate_times_the_normalised_read():
    torch.manual_seed(0)
    block = Block(16, 4, cross_attention=True, pool_gate=True)
    with torch.no_grad():
        for p in block.parameters():
            p.add_(0.1 * torch.randn_like(p))
    x, pool = torch.randn(2, 3, 16), torch.randn(2, 4, 16)  # 2 rows of 3 tokens, one pool of 4 each
    allowed = torch.ones(2, 1, 3, 3, dtype=torch.bool)
    gate = torch.tensor([True, False])  # row 1 is at its episode start: it reads no pool
    out, _ = block(x, allowed, pool, gate)
    # by hand
    after_sa = x + block.attn(block.ln_1(x), allowed)[0]
    reader = block.ln_cross_attn(after_sa)
    read = block.crossattention(reader, pool)[0]
    mixed = after_sa + torch.sigmoid(block.pool_gate.gate(reader)) * torch.nn.functional.layer_norm(
        read, (16,), block.pool_gate.ln_read.weight, block.pool_gate.ln_read.bias)
    mixed = torch.stack([mixed[0], after_sa[1]])
    expected = mixed + block.mlp(block.ln_2(mixed))
    torch.testing.assert_close(out, expected, rtol=0, atol=1e-6)


def test_a_gate_without_cross_attention_is_refused():
    with pytest.raises(ValueError, match="pool_gate=True gates the cross-attention's read: it needs cross_attention"):
        Block(16, 4, cross_attention=False, pool_gate=True)


@pytest.mark.parametrize("memory", MEMORY_MODES)
def test_the_gated_learner_replays_acting(memory):
    """Replay (the PPO ratio 1 that sample-factory's learner relies on) holds with the gate in every mode."""
    core, features, states, outs, _ = acted(ModelConfig(memory=memory, pool_gate=True))
    with torch.no_grad():
        torch.testing.assert_close(unroll(core, features, states), outs, rtol=0, atol=1e-5)


def test_the_gate_gets_gradients_and_environments_stay_isolated():
    core, features, states, _, _ = acted(ModelConfig(memory="learned", attention_mask="full", pool_gate=True))
    features.requires_grad_(True)
    unroll(core, features, states)[0, 0, -1].sum().backward()
    gate = core.blocks[0].pool_gate
    assert gate.gate.weight.grad.abs().sum() > 0 and gate.ln_read.weight.grad.abs().sum() > 0
    assert features.grad[0, 1, :-1].abs().sum(-1).gt(0).all()  # agent 1's earlier steps reach agent 0
    assert features.grad[1:].abs().sum() == 0  # other environments never do


def test_the_gate_goes_through_the_training_bridge(tmp_path):
    """sample-factory's model is built from the ModelConfig: `--pool_gate true` gives the gated policy,
    and the learner's pass replays acting on a real env."""
    from train.bridge.actor_critic import make_actor_critic
    from train.bridge.env import make_sf_env
    from train.managed import sf_config

    cfg, _ = build_config(["--preset", "lifelong-cpu", "--experiment", str(tmp_path / "exp"), "--envs_per_batch", "2",
                           "--num_agents", "4", "--max_episode_steps", "12",
                           "--map_pattern", "validation-mazes-seed-00[01]", "--pool_gate", "true"])
    assert cfg.model.pool_gate
    ns = sf_config(cfg)
    env = make_sf_env("srmt", ns)
    torch.manual_seed(0)
    ac = make_actor_critic(ns, env.observation_space, env.action_space).eval()
    assert ac.policy.core.blocks[0].pool_gate is not None
    with torch.no_grad():
        for p in ac.parameters():
            p.add_(0.05 * torch.randn_like(p))
    T = ns.rollout
    obs, _ = env.reset()
    state = torch.zeros(env.num_agents, ac.policy.state_size(4))
    records = []
    with torch.no_grad():
        for _ in range(T):
            out = ac(obs, state)
            records.append((obs["obs"], state, out["action_logits"]))
            obs, _, terminated, truncated, _ = env.step(out["action_logits"].argmax(dim=1))
            state = out["new_rnn_states"] * ~(terminated | truncated)[:, None]
        frames, states, logits = (torch.stack([r[i] for r in records]).transpose(0, 1).flatten(0, 1) for i in range(3))
        core, _ = ac.forward_core(ac.forward_head({"obs": frames}), states)
        learned = ac.forward_tail(core, values_only=False, sample_actions=False)["action_logits"]
    torch.testing.assert_close(learned, logits, rtol=0, atol=1e-5)


# ---- the memories the learner returns, and the intent loss -----------------------------------------------

@pytest.mark.parametrize("memory", MEMORY_MODES)
def test_unroll_memories_are_the_memories_acting_wrote(memory):
    core, features, states, outs, memories = acted(ModelConfig(memory=memory))
    with torch.no_grad():
        out, written = unroll_memories(core, features, states)
        assert torch.equal(out, unroll(core, features, states))
    torch.testing.assert_close(written, memories, rtol=0, atol=1e-5)


def test_next_moves_stop_at_an_episode_start_and_at_the_rollout_end():
    actions = torch.tensor([[4, 1, 2, 3, 0, 1]])
    starts = torch.tensor([[True, False, False, True, False, False]])  # episodes start at steps 0 and 3
    targets, valid = next_moves(actions, starts, moves=3)
    assert targets.tolist() == [[[4, 1, 2], [1, 2, 3], [2, 3, 0], [3, 0, 1], [0, 1, 0], [1, 0, 0]]]
    assert valid.tolist() == [[[True, True, True], [True, True, False], [True, False, False],
                               [True, True, True], [True, True, False], [True, False, False]]]


def test_intent_loss_is_the_mean_over_valid_entries():
    logits = torch.tensor([[[2.0, 0.0], [0.0, 0.0]], [[0.0, 5.0], [1.0, 1.0]]])  # (T=2, K=2, C=2)
    targets = torch.tensor([[0, 1], [0, 0]])
    valid = torch.tensor([[True, False], [True, False]])
    loss, accuracy = intent_loss(logits, targets, valid)
    by_hand = (torch.log1p(torch.exp(torch.tensor(-2.0))) + torch.log1p(torch.exp(torch.tensor(5.0)))) / 2
    torch.testing.assert_close(loss, by_hand)
    assert accuracy == 0.5
    nothing, zero = intent_loss(logits, targets, torch.zeros_like(valid))
    assert nothing.item() == 0.0 and zero == 0.0 and nothing.requires_grad is logits.requires_grad


@pytest.mark.parametrize("memory", MEMORY_MODES)
def test_the_intent_loss_reaches_the_memory_head_in_every_mode(memory):
    """Without it, stored and rebuilt memory never train the memory head (docs/model.md, "Gradients")."""
    cfg = ModelConfig(memory=memory)
    core, features, states, _, _ = acted(cfg)
    head = IntentHead(cfg, moves=3)
    _, memories = unroll_memories(core, features, states)
    actions = torch.randint(0, 5, (ENVS, AGENTS, STEPS), generator=torch.Generator().manual_seed(0))
    starts = states[..., -1] == 0
    loss, _ = intent_loss(head(memories), *next_moves(actions, starts, 3))
    loss.backward()
    assert core.memory_head.weight.grad.abs().sum() > 0
    assert head.linear.weight.grad.abs().sum() > 0


@pytest.mark.parametrize("mask", ["causal", "full"])
def test_under_the_causal_mask_the_memory_cannot_see_the_current_observation(mask):
    """What the intent head can know: a memory written mid-episode depends on that step's observation only
    with the full mask (the causal memory token attends to itself and the pool)."""
    core, features, states, _, _ = acted(ModelConfig(memory="learned", attention_mask=mask))
    features.requires_grad_(True)
    _, memories = unroll_memories(core, features, states)
    memories[0, 0, 2].sum().backward()
    sees_own_step = bool(features.grad[0, 0, 2].abs().sum() > 0)
    assert sees_own_step == (mask == "full")
    assert features.grad[0, 0, 0].abs().sum() > 0  # the first step's observation is in the memory either way


# ---- imitation with the intent loss ---------------------------------------------------------------------

def test_imitation_with_the_intent_loss_writes_an_ordinary_policy(tmp_path):
    model = ModelConfig.preset("bottleneck", obs_radius=2, attention_mask="full", pool_gate=True)
    out = tmp_path / "bc.pt"
    settings = ImitationConfig(samples=2 * PER_ROLLOUT, envs=4, rollout=4, intent_loss=0.5)
    stats = imitate(ENV, model, settings, out, report=lambda stats: None)
    assert stats["samples"] == 2 * PER_ROLLOUT and 0 <= stats["intent_accuracy"] <= 1
    payload = torch.load(out, weights_only=True)  # plain tensors and types only
    assert set(payload["state_dict"]) == set(SRMTPolicy(model).state_dict())  # no intent head in the file
    loaded = load_policy(out, expect=model)
    assert loaded.meta["imitation"]["settings"]["intent_loss"] == 0.5
    # seeded: the same run again gives the same weights
    imitate(ENV, model, settings, tmp_path / "again.pt", report=lambda stats: None)
    again = load_policy(tmp_path / "again.pt").model.state_dict()
    assert all(torch.equal(again[k], v) for k, v in loaded.model.state_dict().items())


@pytest.mark.slow  # one lifelong episode through `srmt eval`, ~10 s
def test_a_gated_policy_file_evaluates_with_a_memory_intervention(tmp_path):
    """A policy file of the gated model (what imitation with or without the intent loss writes: the test above)
    runs through `srmt eval`, zero-pool intervention included."""
    model = ModelConfig.preset("bottleneck", obs_radius=5, attention_mask="full", pool_gate=True)
    path = save_policy(tmp_path / "gated.pt", SRMTPolicy(model), model, ENV.replace(obs_radius=5).to_dict(), {})
    out = tmp_path / "eval"
    assert srmt(["eval", "validation", "--checkpoint", str(path), "--episodes", "1", "--agents", "16",
                 "--backend", "torch", "--memory-intervention", "zero-pool", "--out", str(out), "--workers", "1",
                 "--no-progress"]) == 0
    assert len((out / "episodes.jsonl").read_text().splitlines()) == 1


def test_the_intent_loss_changes_the_update_and_off_changes_nothing(tmp_path):
    """One learning step on one rollout: the policy's initial weights do not depend on the switch, W = 0 is the
    plain loss, W > 0 moves the memory head further (stored memory: only the intent loss reaches it)."""
    model = ModelConfig.preset("bottleneck", obs_radius=2, memory="stored")
    settings = ImitationConfig(samples=PER_ROLLOUT, envs=4, rollout=4, minibatch_envs=4, intent_loss=1.0)
    torch.manual_seed(0)
    policy = SRMTPolicy(model)
    batch = Collector(ENV, policy, settings).collect(1.0)
    before = {k: v.clone() for k, v in policy.state_dict().items()}
    optimizer = torch.optim.SGD(policy.parameters(), lr=0.1)
    plain = learn(policy, optimizer, batch, settings, torch.Generator().manual_seed(0))
    assert "intent_accuracy" not in plain and torch.equal(before["core.memory_head.weight"],
                                                          policy.core.memory_head.weight)
    policy.load_state_dict(before)
    head = IntentHead(model, settings.intent_moves)
    optimizer = torch.optim.SGD([*policy.parameters(), *head.parameters()], lr=0.1)
    with_intent = learn(policy, optimizer, batch, settings, torch.Generator().manual_seed(0), head)
    assert 0 <= with_intent["intent_accuracy"] <= 1
    assert not torch.equal(before["core.memory_head.weight"], policy.core.memory_head.weight)


# ---- refusals, before any work --------------------------------------------------------------------------

@pytest.mark.parametrize("values, message", [
    (dict(intent_loss=-1.0), r"intent_loss=-1.0 must be a finite number >= 0"),
    (dict(intent_loss=float("nan")), r"intent_loss=nan must be a finite number >= 0"),
    (dict(intent_moves=0), r"intent_moves=0 must be an integer >= 1"),
    (dict(intent_loss=1.0, intent_moves=9, rollout=8), r"intent_moves=9 must be <= rollout=8"),
])
def test_bad_intent_settings_are_named(values, message):
    with pytest.raises(ValueError, match=message):
        ImitationConfig(**values)


def test_a_short_rollout_is_fine_while_the_intent_loss_is_off():
    assert ImitationConfig(rollout=2).intent_moves > 2  # the default K only binds once the loss is on


@pytest.mark.parametrize("variant", ["empty", "gru", "attention"])
def test_the_intent_loss_needs_a_memory(variant, tmp_path):
    cfg = ModelConfig.preset("bottleneck", variant=variant)
    with pytest.raises(ValueError, match=f"variant='{variant}' writes none"):
        check_intent_loss(cfg, ImitationConfig(intent_loss=0.5))
    check_intent_loss(cfg, ImitationConfig(intent_loss=0.0))  # off: any variant
    with pytest.raises(ValueError, match=f"variant='{variant}' writes none"):
        imitate(ENV, cfg, ImitationConfig(samples=PER_ROLLOUT, envs=4, rollout=4, intent_loss=0.5), tmp_path / "x.pt")
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("argv, message", [
    (["--intent-loss", "-0.5"], "argument --intent-loss: --intent-loss=-0.5 must be a finite number >= 0"),
    (["--intent-moves", "0"], "argument --intent-moves: --intent-moves=0 must be an integer >= 1"),
    (["--intent-loss", "1", "--model", "variant=gru"], "--intent-loss 1 predicts moves from the memory an agent "
                                                       "writes, and variant='gru' writes none"),
    (["--intent-loss", "1", "--intent-moves", "5", "--rollout", "4"], "intent_moves=5 must be <= rollout=4"),
    (["--model", "variant=rmt", "--model", "pool_gate=true"], "pool_gate=True gates the shared pool's read and "
                                                               "needs variant='srmt'"),
])
def test_srmt_imitate_refuses_before_any_work(argv, message, tmp_path, capsys):
    try:
        code = srmt(["imitate", "--out", str(tmp_path / "bc.pt"), *argv])
    except SystemExit as parse_error:  # a value out of range is refused by argparse while parsing
        code = parse_error.code
    assert code == 2
    assert message in capsys.readouterr().err
    assert not list(tmp_path.iterdir())  # no maps, no snapshots, no policy


def test_srmt_train_refuses_the_intent_loss():
    with pytest.raises(TrainConfigError, match=r"--intent_loss is an `srmt imitate` option"):
        build_config(["--preset", "bottleneck", "--intent-loss", "1"])


@pytest.mark.parametrize("values, message", [
    (dict(variant="rmt", pool_gate=True), "pool_gate=True gates the shared pool's read and needs variant='srmt'"),
    (dict(variant="gru", pool_gate=True), "got variant='gru'; set pool_gate=False"),
    (dict(pool_gate="yes"), "pool_gate='yes' must be True or False"),
])
def test_a_gate_without_a_pool_is_refused(values, message):
    with pytest.raises(ValueError, match=message):
        ModelConfig(**values)
