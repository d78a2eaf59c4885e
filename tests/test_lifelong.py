"""The lifelong half: generated training / validation maps, the lifelong-cpu preset, shipped-policy
selection, decoding, and the checks that a policy fits the suite it is evaluated on."""
from __future__ import annotations

import re

import pytest
import torch

from envs.config import EnvConfig, resolve_config
from envs.errors import EnvConfigError
from agents.options import spec_from_args as agent_spec
from eval.evaluate import evaluate
from eval.runner import AgentSpec
from eval.suites import SUITES, EvalError
from maps.grid import free_regions, parse_grid
from maps.lifelong import TRAIN_SEED_OFFSET, keep_largest_region, lifelong_maps, validation_maps, wall_maze_grid
from maps.registry import default_registry
from srmt.checkpoint import save_policy
from srmt.config import ModelConfig
from srmt.model import SRMTPolicy
from train.overrides import build_config
from train.mazes import training_maps

LIFELONG_CFG = ModelConfig.preset("lifelong", hidden=16, heads=4, filters=4, resnet_blocks=0)
RESTART = {"on_target": "restart", "collision_system": "soft", "reward": "directional", "obs_radius": 5}


def _policy(tmp_path, cfg: ModelConfig, env: dict, meta: dict | None = None, name: str = "p.pt"):
    torch.manual_seed(0)
    return save_policy(tmp_path / name, SRMTPolicy(cfg), cfg, env, meta or {})


# ------------------------------------------------------------------ maps
def test_generated_maps_are_seeded_connected_and_sized():
    assert wall_maze_grid(7, 19) == wall_maze_grid(7, 19) != wall_maze_grid(8, 19)
    maps = lifelong_maps("t", TRAIN_SEED_OFFSET, 12)  # 6 wall mazes, then 6 random maps (000..005)
    assert list(maps)[:2] == ["t-wallmaze-000", "t-wallmaze-001"] and list(maps)[-1] == "t-random-005"
    for name, grid in maps.items():
        obstacles = parse_grid(grid, name)
        assert 17 <= obstacles.shape[0] == obstacles.shape[1] <= 24
        sizes = free_regions(obstacles)[1]
        assert len(sizes) == 1 and sizes[0] >= 0.5 * obstacles.size  # one region, mostly free


def test_keep_largest_region_fills_cut_off_cells():
    wall = parse_grid("..#.\n..#.\n###.", "w")
    kept = keep_largest_region(wall)
    # by hand: the 2x2 room on the left (4 cells) beats the 3-cell column on the right, which is filled
    assert (~kept).sum() == 4 and kept[0, 3] and not kept[0, 0]


def test_validation_maps_are_shipped_and_disjoint_from_training_and_benchmark():
    validation = validation_maps()
    registry = default_registry()
    assert all(registry.grid(name) == grid for name, grid in validation.items())
    training = set(training_maps().values())
    assert not training & set(validation.values())
    assert set(SUITES["validation"].maps) == set(validation)


# ---------------------------------------------------------------- preset
def test_lifelong_cpu_preset_is_the_cpu_recipe(tmp_path):
    cfg, _ = build_config(["--preset", "lifelong-cpu", "--experiment", str(tmp_path / "e")])
    assert (cfg.run.backend, cfg.env.on_target, cfg.env.reward, cfg.env.num_agents) == ("torch", "restart",
                                                                                         "directional", 64)
    assert cfg.model.hidden == 32 and cfg.model.obs_radius == 5 == cfg.env.obs_radius
    names = [n for n in training_maps() if re.fullmatch(cfg.env.map_pattern, n)]
    # the pattern picks training_maps()'s lifelong_maps("train", ..., 256): 128 wall mazes + 128 random maps
    assert len(names) == 256 and {n.split("-")[1] for n in names} == {"wallmaze", "random"}


def test_restart_takes_the_lifelong_reward_or_directional_shaping():
    base = dict(map_name="open-8x8", num_agents=2, obs_radius=5, on_target="restart")
    for reward in ("lifelong", "directional"):
        resolve_config(EnvConfig(**base, reward=reward))
    with pytest.raises(EnvConfigError, match=r"reward='dense' does not fit on_target='restart'"):
        resolve_config(EnvConfig(**base, reward="dense"))


def test_too_many_agents_for_distinct_starts_and_goals_is_refused_before_any_work():
    grid = "....\n####\n.#.#"  # one region of 4 cells (2 agents) and two single cells (0)
    resolve_config(EnvConfig(map_name=None, grid=grid, num_agents=2, on_target="restart", reward="lifelong"))
    with pytest.raises(EnvConfigError, match="room for 2 agents with distinct start and goal cells"):
        resolve_config(EnvConfig(map_name=None, grid=grid, num_agents=3, on_target="restart", reward="lifelong"))


# --------------------------------------------------- policy fits the suite
def test_bottleneck_policy_on_a_lifelong_suite_and_the_reverse_are_refused(tmp_path):
    bottleneck = _policy(tmp_path, ModelConfig.preset("bottleneck"),
                         {"on_target": "finish", "obs_radius": 2}, name="b.pt")
    lifelong = _policy(tmp_path, LIFELONG_CFG, RESTART, name="l.pt")
    kw = dict(out_dir=tmp_path / "o", workers=1, progress=False, quick=True)
    with pytest.raises(EvalError, match="trained for Bottleneck-style .*suite 'validation' is lifelong.*lifelong-cpu"):
        evaluate("validation", spec=AgentSpec(checkpoint=str(bottleneck)), **kw)
    with pytest.raises(EvalError, match="trained for lifelong .*suite 'bottleneck' is finish-mode"):
        evaluate("bottleneck", spec=AgentSpec(checkpoint=str(lifelong)), **kw)
    assert not (tmp_path / "o").exists()  # refused before anything was written


def test_relay_policy_is_refused_on_the_standard_suites_and_in_render(tmp_path, capsys):
    relay = _policy(tmp_path, ModelConfig.preset("bottleneck"),
                    {"on_target": "finish", "obs_radius": 2, "task": "relay"}, name="r.pt")
    with pytest.raises(EvalError, match="trained on the 'relay' task.*suite 'bottleneck' plays the 'standard' one: "
                                        "evaluate it with `srmt bench ablation --task relay`"):
        evaluate("bottleneck", spec=AgentSpec(checkpoint=str(relay)), out_dir=tmp_path / "o", workers=1,
                 progress=False, quick=True)
    assert not (tmp_path / "o").exists()
    from cli.main import main
    assert main(["render", "--map", "bottleneck-8", "--checkpoint", str(relay), "--out", str(tmp_path / "v")]) == 2
    assert "trained on the 'relay' task" in capsys.readouterr().err
    assert not (tmp_path / "v").exists()


def test_policy_with_another_radius_is_refused(tmp_path):
    small = _policy(tmp_path, ModelConfig.preset("lifelong", hidden=16, heads=4, filters=4, resnet_blocks=0,
                                                 obs_radius=3), {**RESTART, "obs_radius": 3})
    with pytest.raises(EvalError, match="radius-3 window; suite 'validation' is defined with radius 5"):
        evaluate("validation", spec=AgentSpec(checkpoint=str(small)), out_dir=tmp_path / "o", workers=1,
                 progress=False, quick=True)


def test_decoding_follows_the_policy_file_unless_given(tmp_path):
    path = _policy(tmp_path, LIFELONG_CFG, RESTART, {"decoding": "sample"})
    assert AgentSpec(checkpoint=str(path)).build().sample is True
    assert AgentSpec(checkpoint=str(path), sample=False).build().sample is False
    plain = _policy(tmp_path, LIFELONG_CFG, RESTART, name="plain.pt")
    assert AgentSpec(checkpoint=str(plain)).build().sample is False


def test_lifelong_policy_runs_on_the_validation_suite(tmp_path, no_plot):
    path = _policy(tmp_path, LIFELONG_CFG, RESTART, {"decoding": "sample"})
    result = evaluate("validation", spec=AgentSpec(checkpoint=str(path)), out_dir=tmp_path / "o", workers=1,
                      progress=False, maps="lifelong-validation-random-000", agents=[16])
    (record,) = result.records
    assert record["env_grid_search"] == {"seed": 0, "num_agents": 16, "map_name": "lifelong-validation-random-000"}
    # the seeded untrained policy (torch.manual_seed(0), agent seed 0) on that map's seed-0 episode
    assert {k: v for k, v in record["metrics"].items() if k != "runtime"} == \
        {"avg_throughput": 0.0, "ep_length": 128, "avg_agents_density": 0.042652217560258554}


def test_without_checkpoint_the_shipped_policy_that_fits_is_named(capsys):
    import argparse

    from agents.options import add_agent_options as agent_args

    parser = argparse.ArgumentParser()
    agent_args(parser)
    args = parser.parse_args([])  # srmt eval's agent options, all at their defaults
    assert agent_spec(args, lifelong=True).policy_path.name == "lifelong_srmt.pt"
    args.shield = "pibt"
    assert agent_spec(args, lifelong=True).policy_path.name == "lifelong_srmt_shield.pt"
    assert "shipped lifelong policy" in capsys.readouterr().err
    assert agent_spec(args, lifelong=False).policy_path.name == "bottleneck_srmt.pt"
    assert "shipped Bottleneck policy" in capsys.readouterr().err
    assert AgentSpec("greedy").policy_path is None


def test_render_refuses_a_bottleneck_policy_on_a_lifelong_map(tmp_path, capsys):
    from agents.pretrained import default_policy_path
    from cli.main import main as srmt

    code = srmt(["render", "--map", "lifelong-validation-random-000", "--agents", "4", "--checkpoint",
                     str(default_policy_path()), "--out", str(tmp_path / "r"), "--formats", "svg"])
    assert code == 2 and "trained for Bottleneck-style" in capsys.readouterr().err
    assert not (tmp_path / "r").exists()
