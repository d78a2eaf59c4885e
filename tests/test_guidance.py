"""The observation's guidance channel (`EnvConfig.guidance`): exact values on hand-made maps, both backends
equal for every value, and the option reaching training, imitation and evaluation."""
import numpy as np
import pytest
import torch

from agents.srmt_agent import SRMTAgent
from envs.config import EnvConfig, resolve_config
from envs.errors import EnvConfigError
from envs.observation import Observer
from envs.torch_backend import TorchBatchedEnv
from envs.torch_backend.lockstep import lockstep
from envs.torch_backend.observe import TableObserver
from maps.synthetic import random_grid
from srmt.checkpoint import save_policy
from srmt.config import ModelConfig
from srmt.model import SRMTPolicy
from test_torch_backend_observe import observe_both, random_state

GUIDANCE = ["path", "cost-to-go", "congestion-path"]


def observe(grid: str, radius: int, positions, goals, guidance: str, active=None):
    """Both observers on one env of a literal map; returns Observer's (obs, next cell as (row, col)) after
    checking that TableObserver gives the same."""
    maps = [np.array([[c == "#" for c in row] for row in grid.split()])]
    pos, goal = torch.tensor([positions]), torch.tensor([goals])
    act = torch.ones(1, len(positions), dtype=torch.bool) if active is None else torch.tensor([active])
    state = (np.array([0]), pos, goal, act)
    (obs, nxt), (ref_obs, ref_nxt) = observe_both(maps, radius, state, guidance=guidance)
    assert torch.equal(obs, ref_obs) and torch.equal(nxt, ref_nxt)
    ref = Observer(maps, radius, 1, len(positions), guidance=guidance)
    ref.set_goals(0, goal[0].numpy())
    return ref.observe(pos, goal, act)


SNAKE = """
...
##.
...
"""
"""Goal at (2, 0): distances 6 5 4 / # # 3 / 0 1 2 along the one corridor."""


def test_cost_to_go_values_on_a_hand_made_map():
    obs, _ = observe(SNAKE, 2, [[0, 1]], [[2, 0]], "cost-to-go")
    # window rows -2..2, cols -1..3: beyond the border ring free (0), the ring -1; on the map (6 - d) / 6
    expected = torch.tensor([[0, 0, 0, 0, 0],
                             [-1, -1, -1, -1, -1],
                             [-1, 0, 1 / 6, 2 / 6, -1],
                             [-1, -1, -1, 3 / 6, -1],
                             [-1, 1, 5 / 6, 4 / 6, -1]], dtype=torch.float32)
    assert torch.equal(obs[0, 0], expected)
    near, _ = observe(SNAKE, 1, [[0, 1]], [[2, 0]], "cost-to-go")       # in view: d 6, 5, 4, 3
    assert torch.equal(near[0, 0], torch.tensor([[-1, -1, -1], [0, 1 / 3, 2 / 3], [-1, -1, 1]]))


def test_cost_to_go_is_zero_where_the_goal_cannot_be_reached_and_one_when_one_distance_is_seen():
    cut = """
    .#.
    .#.
    """
    obs, nxt = observe(cut, 1, [[0, 0]], [[0, 2]], "cost-to-go")
    assert torch.equal(obs[0, 0], torch.tensor([[-1, -1, -1], [-1, 0, -1], [-1, 0, -1]]))
    assert nxt.tolist() == [[[-1, -1]]]
    dead_end = """
    #.#
    ...
    """
    obs, nxt = observe(dead_end, 1, [[1, 1]], [[0, 1]], "cost-to-go")       # d 0 / 2 1 2
    assert torch.equal(obs[0, 0], torch.tensor([[-1, 1, -1], [0, 0.5, 0], [-1, -1, -1]]))
    assert nxt.tolist() == [[[0, 1]]]                                        # the path's first cell
    obs, nxt = observe("#\n.\n#", 1, [[1, 0]], [[1, 0]], "cost-to-go")       # on its goal, nothing else free
    assert torch.equal(obs[0, 0], torch.tensor([[-1, -1, -1], [-1, 1, -1], [-1, -1, -1]]))
    assert nxt.tolist() == [[[-1, -1]]]


OPEN = """
...
...
...
"""


def test_congestion_path_bends_around_an_agent_in_its_way():
    # agent 0 at (0, 0) to (2, 2): the plain path goes down first (up, down, left, right order)
    plain, plain_next = observe(OPEN, 2, [[0, 0], [1, 0]], [[2, 2], [1, 0]], "path")
    bent, bent_next = observe(OPEN, 2, [[0, 0], [1, 0]], [[2, 2], [1, 0]], "congestion-path")
    window = lambda cells: {(r + 2, c + 2) for r, c in cells}                 # map cell -> window cell of (0, 0)
    assert {tuple(x) for x in (plain[0, 0] == 1).nonzero().tolist()} == window([(1, 0), (2, 0), (2, 1), (2, 2)])
    assert {tuple(x) for x in (bent[0, 0] == 1).nonzero().tolist()} == window([(0, 1), (1, 1), (2, 1), (2, 2)])
    assert plain_next[0, 0].tolist() == [1, 0] and bent_next[0, 0].tolist() == [0, 1]
    assert torch.equal(bent[:, 1:], plain[:, 1:])                           # the other channels are the same
    # both closer cells taken: the first closer one, as the plain path
    both, both_next = observe(OPEN, 2, [[0, 0], [1, 0], [0, 1]], [[2, 2], [1, 0], [0, 1]], "congestion-path")
    assert {tuple(x) for x in (both[0, 0] == 1).nonzero().tolist()} == window([(1, 0), (2, 0), (2, 1), (2, 2)])
    assert both_next[0, 0].tolist() == [1, 0]
    # an agent that is not active is no obstacle to the path
    gone, _ = observe(OPEN, 2, [[0, 0], [1, 0]], [[2, 2], [1, 0]], "congestion-path", active=[True, False])
    assert torch.equal(gone[0, 0], plain[0, 0])


@pytest.mark.parametrize("guidance", GUIDANCE[1:])
@pytest.mark.parametrize("radius", [1, 2, 3, 5, 7])
@pytest.mark.parametrize("pairwise", [False, True])
def test_table_observer_equals_observer_for_every_guidance(guidance, radius, pairwise):
    """Random crowded states on three maps, shared goals and inactive agents; r=7 unpacks row bits."""
    rng = np.random.default_rng(radius)
    maps = [rng.random((rows, cols)) < 0.3 for rows, cols in ((7, 9), (11, 6), (9, 9))]
    changed = 0
    for shared in (False, True):
        state = random_state(rng, maps, num_envs=5, num_agents=6, shared_goals=shared)
        (obs, nxt), (ref_obs, ref_nxt) = observe_both(maps, radius, state, pairwise, guidance=guidance)
        assert torch.equal(obs, ref_obs) and torch.equal(nxt, ref_nxt)
        (path, path_nxt), _ = observe_both(maps, radius, state, pairwise, guidance="path")
        assert torch.equal(obs[:, 1:], path[:, 1:])
        changed += int((obs[:, 0] != path[:, 0]).any(dim=(1, 2)).sum())
        if guidance == "cost-to-go":
            assert torch.equal(nxt, path_nxt)                                # the reward's path is the plain one
            assert torch.equal(obs[:, 0] < 0, path[:, 0] < 0)                # the same obstacles
    assert changed >= (20 if guidance == "cost-to-go" else 1), changed


def test_congestion_path_differs_from_the_path_on_crowded_maps():
    rng = np.random.default_rng(0)
    maps = [rng.random((12, 12)) < 0.15]
    state = random_state(rng, maps, num_envs=4, num_agents=30, shared_goals=False)
    (bent, bent_nxt), (ref, ref_nxt) = observe_both(maps, 3, state, guidance="congestion-path")
    assert torch.equal(bent, ref) and torch.equal(bent_nxt, ref_nxt)
    (path, path_nxt), _ = observe_both(maps, 3, state, guidance="path")
    assert int((bent[:, 0] != path[:, 0]).any(dim=(1, 2)).sum()) == 31               # of 120 rows, 95 active
    assert int((bent_nxt != path_nxt).sum()) == 15


@pytest.mark.parametrize("guidance", GUIDANCE[1:])
@pytest.mark.parametrize("mode", ["restart", "finish"])
def test_torch_backend_matches_pogema_step_by_step(guidance, mode):
    """Whole episodes (auto-resets, lifelong new goals, the directional reward along the guidance's path):
    agent pairs (12 agents on 8x8, r=2) and per-env canvases (30 agents on 10x12, r=1)."""
    reached = 0
    for seed, rows, cols, agents, radius, length in ((1, 8, 8, 12, 2, 24), (3, 10, 12, 30, 1, 30)):
        cfg = EnvConfig(grid=random_grid(seed, rows, cols, 0.3), num_agents=agents, obs_radius=radius,
                        collision_system="soft" if mode == "restart" else "block_both", on_target=mode,
                        reward="directional", max_episode_steps=length, seed=seed * 7, guidance=guidance)
        stats = lockstep(cfg, num_envs=2, steps=40, seed=seed)
        assert stats.episodes == 2 * (40 // length)
        reached += stats.reached
    assert reached == {"restart": 48, "finish": 30}[mode]                  # new goals / arrivals: exercised


def test_guidance_is_validated_with_its_known_values():
    assert EnvConfig().guidance == "path"
    with pytest.raises(EnvConfigError, match=r"guidance='cost_to_go' is not one of \['path', 'cost-to-go', "
                                             r"'congestion-path'\]"):
        resolve_config(EnvConfig(map_name="bottleneck-3", guidance="cost_to_go"))
    with pytest.raises(EnvConfigError, match="guidance='paths'"):
        TableObserver([np.zeros((3, 3), dtype=bool)], 1, 1, 1, guidance="paths")
    with pytest.raises(ValueError, match="path_windows .* guidance='cost-to-go'"):
        TableObserver([np.zeros((3, 3), dtype=bool)], 1, 1, 1, path_windows=True, guidance="cost-to-go")


def test_only_other_guidance_keeps_distances_in_the_torch_backend():
    cfg = EnvConfig(map_name="bottleneck-3")
    assert TorchBatchedEnv(cfg, 1)._observer.table.distances is None
    table = TorchBatchedEnv(cfg.replace(guidance="cost-to-go"), 1)._observer.table
    assert table.distances is not None and table.field_bytes == 6 * table.canvas_size


# ------------------------------------------------------------------ the option on every path
def _policy_file(tmp_path, guidance: str | None):
    torch.manual_seed(0)
    cfg = ModelConfig.preset("bottleneck")
    env = {} if guidance is None else EnvConfig(guidance=guidance).to_dict()
    return save_policy(tmp_path / f"{guidance}.pt", SRMTPolicy(cfg), cfg, env, {})


def test_train_option_sets_the_env_field():
    from train.overrides import build_config

    cfg, _ = build_config(["--preset", "lifelong-cpu", "--guidance", "cost-to-go", "--experiment", "/nonexistent/g"])
    assert cfg.env.guidance == "cost-to-go"
    cfg, _ = build_config(["--preset", "lifelong-cpu", "--experiment", "/nonexistent/g"])
    assert cfg.env.guidance == "path"                                         # the presets keep the paper's channel


def test_imitate_option_reaches_the_env(tmp_path, monkeypatch):
    import train.imitation
    import train.mazes
    from cli.main import main

    seen = []
    monkeypatch.setattr(train.mazes, "with_training_maps", lambda env, folder: env)
    monkeypatch.setattr(train.imitation, "imitate", lambda env, *args, **kwargs: seen.append(env.guidance))
    assert main(["imitate", "--out", str(tmp_path / "p.pt"), "--guidance", "congestion-path"]) == 0
    assert main(["imitate", "--out", str(tmp_path / "p.pt")]) == 0
    assert seen == ["congestion-path", "path"]


def test_agent_takes_the_guidance_of_its_policy_file(tmp_path):
    assert SRMTAgent.from_checkpoint(_policy_file(tmp_path, "cost-to-go")).guidance == "cost-to-go"
    assert SRMTAgent.from_checkpoint(_policy_file(tmp_path, None)).guidance == "path"   # files from before


@pytest.mark.parametrize("guidance", ["cost-to-go", None])
def test_evaluation_observes_with_the_policy_guidance(tmp_path, no_plot, guidance):
    from agents.spec import AgentSpec
    from eval.evaluate import prepare

    plan = prepare("bottleneck", spec=AgentSpec("srmt", checkpoint=str(_policy_file(tmp_path, guidance))),
                   maps="bottleneck-3", seeds=[0], out_dir=tmp_path / "out", workers=1, progress=False,
                   backend="torch")
    assert [chunk.config.guidance for chunk in plan.chunks] == [guidance or "path"]
    seen = []
    act = plan.agent.act
    plan.agent.act = lambda obs, env: seen.append(obs[:, 0].clone()) or act(obs, env)
    plan.run()
    fractions = sum(int(((x > 0) & (x < 1)).sum()) for x in seen)
    assert (fractions > 0) == (guidance == "cost-to-go")
