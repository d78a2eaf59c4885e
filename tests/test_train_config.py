"""srmt train configuration: override scheme, presets, and every bad input rejected before a spawn."""
from __future__ import annotations

import json
import re

import pytest
import torch

import train.run
from envs.config import EnvConfig
from envs.errors import EnvConfigError
from srmt.config import ModelConfig
from train.bridge.options import sf_parser
from train.checks import check_config, prepare_experiment
from common.outputs import OutputPathError
from train.config import TrainConfigError
from train.managed import MANAGED_SF, settable_sf_options, sf_config
from train.overrides import build_config, parse_overrides
from train.saved_config import CONFIG_FILE
from maps.synthetic import maze_grid
from train.mazes import training_mazes
from train.presets import BOTTLENECK_TRAIN_PATTERN


def _build(tmp_path, *argv):
    return build_config(["--experiment", str(tmp_path / "exp"), *argv])[0]


# ------------------------------------------------------------------ scheme
def test_parse_overrides_forms():
    assert parse_overrides(["--a", "1", "--b-c=x", "--env.num_agents", "4", "--lr", "-1e-3"]) == \
        {"a": "1", "b_c": "x", "env.num_agents": "4", "lr": "-1e-3"}


@pytest.mark.parametrize("argv, match", [
    (["--hidden"], "needs a value"),
    (["hidden", "3"], "expected an option"),
])
def test_parse_overrides_errors(argv, match):
    with pytest.raises(TrainConfigError, match=match):
        parse_overrides(argv)


def test_bottleneck_preset(tmp_path):
    cfg = _build(tmp_path)
    assert cfg.env.map_pattern == BOTTLENECK_TRAIN_PATTERN and cfg.env.map_name is None
    assert (cfg.env.num_agents, cfg.env.obs_radius, cfg.env.max_episode_steps) == (2, 2, 512)
    assert cfg.env.reward == "directional" and cfg.env.on_target == "finish"
    assert cfg.model == ModelConfig.preset("bottleneck")
    assert cfg.sf["gamma"] == 0.9716 and cfg.sf["exploration_loss_coeff"] == 0.0156  # SPEC section 4


def test_overrides_reach_every_section(tmp_path):
    cfg = _build(tmp_path, "--env.num_agents", "4", "--hidden", "32", "--reward", "sparse",
                 "--variant=rmt", "--learning-rate", "3e-4", "--sf.serial_mode", "true",
                 "--train_for_env_steps", "2e6", "--device", "cpu", "--max_episode_steps", "64")
    assert cfg.env.num_agents == 4 and cfg.env.reward == "sparse" and cfg.env.max_episode_steps == 64
    assert cfg.model.hidden == 32 and cfg.model.variant == "rmt"
    assert cfg.sf["learning_rate"] == 3e-4 and cfg.sf["serial_mode"] is True
    assert cfg.run.train_for_env_steps == 2_000_000


@pytest.mark.parametrize("key", ["--obs_radius", "--env.obs_radius", "--model.obs_radius"])
def test_obs_radius_is_one_setting(tmp_path, key):
    cfg = _build(tmp_path, key, "3")
    assert cfg.env.obs_radius == cfg.model.obs_radius == 3


def test_seed_sets_envs_and_torch(tmp_path):
    cfg = _build(tmp_path, "--seed", "7")
    assert cfg.env.seed == 7 and cfg.sf["seed"] == 7


@pytest.mark.parametrize("argv, match", [
    (["--hiden", "32"], r"unknown option --hiden; did you mean \['--hidden'"),
    (["--model.hiden", "32"], "model has no field 'hiden'; did you mean"),
    (["--foo.bar", "1"], "unknown section 'foo'"),
    (["--hidden", "abc"], "--hidden 'abc'"),
    (["--sf.serial_mode", "maybe"], "--sf.serial_mode 'maybe'"),
    (["--lr_schedule", "cosine"], "is not one of"),
    (["--use_rnn", "true"], "set by srmt train: always False"),
    (["--sf.train_for_seconds", "10"], "no effect in sample-factory 2.1.1; use --max_train_seconds"),
    (["--num_envs_per_worker", "4"], "envs_per_batch"),
    (["--actor_worker_gpus", "0"], r"set by --device and --backend \(cuda \+ torch"),
    (["--sf.env_gpu_observations", "true"], "set by --device and --backend"),
])
def test_bad_keys_and_values(tmp_path, argv, match):
    with pytest.raises(TrainConfigError, match=match):
        _build(tmp_path, *argv)


def test_managed_options_reach_sample_factory(tmp_path):
    """MANAGED_SF is the one list: each key is a sample-factory option the user cannot set, and what
    sf_config passes for it is its value there (None: sample-factory's default stays)."""
    cfg = _build(tmp_path, "--worker_num_splits", "2", "--envs_per_batch", "64")
    ns = sf_config(cfg)
    parser = sf_parser()
    known = {action.dest for action in parser._actions}
    for name, option in MANAGED_SF.items():
        assert name in known and name not in settable_sf_options(), name
        value = option.value_for(cfg)
        assert getattr(ns, name, None) == (parser.get_default(name) if value is None else value), name
    assert (ns.env, ns.experiment, ns.train_dir, ns.num_envs_per_worker) == ("srmt", "exp", str(tmp_path), 2)


def test_all_problems_reported_together(tmp_path):
    with pytest.raises(TrainConfigError) as err:
        _build(tmp_path, "--hiden", "1", "--heads", "x")
    assert "--hiden" in str(err.value) and "--heads 'x'" in str(err.value)


# ------------------------------------------------- bad input, before spawn
def test_unknown_preset(tmp_path, no_spawn):
    with pytest.raises(TrainConfigError, match=r"unknown preset 'bottle'; choose one of \['bottleneck', 'lifelong', 'lifelong-cpu'\]"):
        train.run.train(["--preset", "bottle", "--experiment", str(tmp_path / "e")])


def test_unknown_variant(tmp_path, no_spawn):
    with pytest.raises(ValueError, match="variant='transformer' is not one of"):
        train.run.train(["--variant", "transformer", "--experiment", str(tmp_path / "e")])


def test_unknown_reward(tmp_path, no_spawn):
    with pytest.raises(ValueError, match="reward='shaped' is not one of"):
        train.run.train(["--reward", "shaped", "--experiment", str(tmp_path / "e")])


def test_lifelong_reward_on_bottleneck(tmp_path, no_spawn):
    with pytest.raises(ValueError, match="reward='lifelong' does not fit on_target='finish'"):
        train.run.train(["--reward", "lifelong", "--experiment", str(tmp_path / "e")])


@pytest.mark.skipif(torch.cuda.is_available(), reason="a GPU is present")
def test_cuda_without_gpu(tmp_path, no_spawn):
    with pytest.raises(TrainConfigError, match="device='cuda' but no CUDA GPU is usable here.*use --device cpu"):
        train.run.train(["--device", "cuda", "--experiment", str(tmp_path / "e")])


def test_unknown_device_and_backend(tmp_path, no_spawn):
    with pytest.raises(TrainConfigError, match=r"backend='jax' is not one of \['pogema', 'torch'\]"):
        train.run.train(["--device", "tpu", "--backend", "jax", "--experiment", str(tmp_path / "e")])


def test_experiment_dir_not_writable(tmp_path, no_spawn):
    """common.outputs.check_output, as for every other output directory."""
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(OutputPathError, match=re.escape(f"--experiment {blocker}/exp: {blocker} is a file, so "
                                                        "nothing can be created under it; pass a path in a directory")):
        train.run.train(["--experiment", str(blocker / "exp")])
    with pytest.raises(OutputPathError, match=re.escape(f"--experiment {blocker}: it exists and is not a directory; "
                                                        "pass a new or existing directory")):
        train.run.train(["--experiment", str(blocker)])
    assert blocker.read_text() == "not a directory"


def test_experiment_dir_not_srmt(tmp_path, no_spawn):
    (tmp_path / "something.txt").write_text("x")
    with pytest.raises(TrainConfigError, match="not empty and holds no srmt_config.json"):
        train.run.train(["--experiment", str(tmp_path)])


def test_train_for_env_steps_below_one_batch(tmp_path, no_spawn):
    with pytest.raises(TrainConfigError, match=r"train_for_env_steps=1000 is smaller than one training batch: "
                                               r"sf.batch_size=4096 x sf.num_batches_per_epoch=1 = 4096"):
        train.run.train(["--train_for_env_steps", "1000", "--experiment", str(tmp_path / "e")])


def test_sync_mode_batch_arithmetic(tmp_path):
    cfg = _build(tmp_path, "--async_rl", "false", "--envs_per_batch", "100")
    with pytest.raises(TrainConfigError, match=r"sync mode .* 4096 is not a multiple of .* = 1600"):
        check_config(cfg)


def _saved_experiment(tmp_path, *argv, checkpoint=True):
    exp = tmp_path / "exp"
    cfg, saved = build_config(["--experiment", str(exp), *argv])
    prepare_experiment(cfg, saved, list(argv))
    if checkpoint:
        (exp / "checkpoint_p0").mkdir()
        torch.save({"model": {}, "env_steps": 4096, "train_step": 1},  # readable: resuming would load it
                   exp / "checkpoint_p0" / "checkpoint_000000001_4096.pth")
    return exp


@pytest.mark.parametrize("argv, match", [
    (["--variant", "rmt"], r"model.variant: 'srmt' -> 'rmt'"),
    (["--hidden", "32"], r"model.hidden: 16 -> 32"),
    (["--env.num_agents", "4"], r"env.num_agents: 2 -> 4"),
])
def test_incompatible_checkpoint_on_resume(tmp_path, no_spawn, argv, match):
    exp = _saved_experiment(tmp_path)
    with pytest.raises(TrainConfigError, match=f"cannot resume .*{match}"):
        train.run.train(["--experiment", str(exp), *argv])


def test_resume_in_another_memory_mode_names_both(tmp_path, no_spawn):
    exp = _saved_experiment(tmp_path)
    with pytest.raises(TrainConfigError, match="trained in memory mode 'learned', not 'stored'"):
        train.run.train(["--experiment", str(exp), "--memory", "stored"])


def test_a_config_saved_before_memory_modes_resumes(tmp_path, no_spawn):
    """srmt_config.json files written before the `memory` field existed mean memory='stored'."""
    exp = _saved_experiment(tmp_path)
    record = json.loads((exp / CONFIG_FILE).read_text())
    del record["config"]["model"]["memory"], record["format_version"]  # as written then: no version, no field
    (exp / CONFIG_FILE).write_text(json.dumps(record))
    cfg, saved = build_config(["--experiment", str(exp)])
    from train.checks import resume_differences

    assert resume_differences(saved, cfg)[0] == []
    assert cfg.model.memory == "stored"


@pytest.mark.parametrize("argv, match", [
    (["--batch_size", "1000"], r"memory='learned' .*sf.batch_size=1000 must be a multiple of sf.rollout=8 x "
                               r"num_agents=2 = 16"),
    (["--shuffle_minibatches", "true"], "sf.shuffle_minibatches must be false"),
])
def test_learned_memory_needs_whole_environments_in_a_minibatch(tmp_path, no_spawn, argv, match):
    with pytest.raises(TrainConfigError, match=match):
        train.run.train(["--experiment", str(tmp_path / "e"), "--memory", "learned", *argv])


def test_resume_with_other_preset(tmp_path, no_spawn):
    exp = _saved_experiment(tmp_path)
    with pytest.raises(TrainConfigError, match="trained with --preset bottleneck, not lifelong"):
        train.run.train(["--preset", "lifelong", "--experiment", str(exp)])


def test_resume_uses_saved_config_as_base(tmp_path):
    exp = _saved_experiment(tmp_path, "--reward", "sparse", "--learning_rate", "5e-4")
    cfg, saved = build_config(["--experiment", str(exp), "--train_for_env_steps", "9e6"])
    assert saved is not None
    assert cfg.env.reward == "sparse" and cfg.sf["learning_rate"] == 5e-4
    assert cfg.run.train_for_env_steps == 9_000_000
    cfg, notes = prepare_experiment(cfg, saved, [])
    assert notes == ["run.train_for_env_steps: 20000000 -> 9000000"]
    assert json.loads((exp / CONFIG_FILE).read_text())["config"]["run"]["train_for_env_steps"] == 9_000_000


def test_model_change_allowed_before_first_checkpoint(tmp_path):
    exp = _saved_experiment(tmp_path, checkpoint=False)
    cfg, saved = build_config(["--experiment", str(exp), "--hidden", "32"])
    cfg, notes = prepare_experiment(cfg, saved, [])
    assert cfg.model.hidden == 32 and notes == []


# ------------------------------------------------------------ lifelong maps
def test_lifelong_preset_generates_its_mazes(tmp_path):
    cfg, saved = build_config(["--preset", "lifelong", "--experiment", str(tmp_path / "exp")])
    assert cfg.model == ModelConfig.preset("lifelong")
    assert (cfg.env.num_agents, cfg.env.on_target, cfg.env.reward) == (64, "restart", "lifelong")
    cfg, _ = prepare_experiment(cfg, saved, [])
    assert cfg.env.maps_dir == str(tmp_path / "exp" / "maps")
    assert (tmp_path / "exp" / "maps" / "train-mazes.yaml").is_file()
    saved_env = json.loads((tmp_path / "exp" / CONFIG_FILE).read_text())["config"]["env"]
    assert EnvConfig.from_dict(saved_env) == cfg.env


def test_mazes_are_seeded_connected_and_not_the_benchmark():
    assert maze_grid(1_000_000, 6) == maze_grid(1_000_000, 6) != maze_grid(1_000_001, 6)
    from planners.pathfinding import bfs_distances
    from maps.grid import parse_grid

    for name, grid in training_mazes(6).items():
        assert name.startswith("train-maze-")
        obstacles = parse_grid(grid, name=name)
        free = list(zip(*(~obstacles).nonzero()))
        distances = bfs_distances(obstacles, tuple(int(x) for x in free[0]))
        assert all(distances[cell] >= 0 for cell in free), f"{name} is not connected"


# --------------------------------------------------------------------- CLI
def _parser():
    import argparse

    import benchmarks
    from train import cli

    parser = argparse.ArgumentParser(prog="srmt")
    sub = parser.add_subparsers(dest="command", required=True)
    cli.add_subparser(sub)
    benchmarks.add_subparsers(sub.add_parser("bench").add_subparsers(dest="bench", required=True))
    return parser


def test_cli_passes_every_option_through():
    args = _parser().parse_args(["train", "--preset", "bottleneck", "--hidden", "32", "--env.num_agents=4"])
    assert args.train_argv == ["--preset", "bottleneck", "--hidden", "32", "--env.num_agents=4"]
    assert callable(args.func)


def test_cli_help_lists_the_scheme(capsys):
    with pytest.raises(SystemExit) as done:
        _parser().parse_args(["train", "--help"])
    assert done.value.code == 0
    out = capsys.readouterr().out
    assert "--SECTION.FIELD" in out and "directional | sparse" in out and "max_train_seconds" in out
    # the lists come from where they are defined (train/presets.py, srmt/config.py, train/config.py)
    assert "usage: srmt train [--preset bottleneck|lifelong-cpu|lifelong]" in out
    assert "--preset NAME             bottleneck (16 training corridors, 2 agents)\n" in out
    assert "--variant NAME            srmt | rmt | attention | empty | gru\n" in out
    assert "--device cpu|cuda         where the learner and inference run\n" in out
    assert "bottleneck: directional | sparse | dense | directional-negative | moving-negative; " \
           "lifelong: lifelong | directional\n" in out


def test_cli_bench_options():
    args = _parser().parse_args(["bench", "train", "--seconds", "5", "--set", "envs_per_batch=64"])
    assert args.seconds == 5 and args.set == ["envs_per_batch=64"] and callable(args.func)


@pytest.mark.parametrize("argv, message", [
    (["--learning_rate", "-1"], "sf.learning_rate=-1.0 must be in (0, 1]"),
    (["--learning_rate", "nan"], "sf.learning_rate=nan must be a finite number in (0, 1]"),
    (["--learning_rate", "inf"], "sf.learning_rate=inf must be a finite number in (0, 1]"),
    (["--gamma", "2"], "sf.gamma=2.0 must be in (0, 1]"),
    (["--gae_lambda", "-0.1"], "sf.gae_lambda=-0.1 must be in [0, 1]"),
    (["--ppo_clip_ratio", "0"], "sf.ppo_clip_ratio=0.0 must be in (0, 1]"),
    (["--exploration_loss_coeff", "-1"], "sf.exploration_loss_coeff=-1.0 must be a finite number >= 0"),
    (["--rollout", "0"], "sf.rollout=0 must be an integer >= 1"),
    (["--policy_init_gain", "nan"], "sf.policy_init_gain=nan must be a finite number"),
    (["--max_train_seconds", "nan"], "max_train_seconds=nan must be a finite number >= 0"),
    (["--num_agents", "0"], "num_agents=0 must be an integer >= 1"),
    (["--envs_per_batch", "0"], "envs_per_batch=0 must be an integer >= 1"),
])
def test_numeric_options_are_range_checked(tmp_path, no_spawn, argv, message):
    exp = tmp_path / "exp"
    with pytest.raises(TrainConfigError, match=re.escape(message)):
        train.run.train(["--experiment", str(exp), *argv])
    assert not exp.exists()


def test_option_given_twice_is_an_error(tmp_path, no_spawn):
    with pytest.raises(TrainConfigError, match=r"option --seed is given twice \('1' and '2'\); give it once"):
        train.run.train(["--experiment", str(tmp_path / "exp"), "--seed", "1", "--seed", "2"])


def test_rejected_env_config_leaves_no_directory(tmp_path, no_spawn):
    exp = tmp_path / "new" / "exp"
    with pytest.raises(EnvConfigError, match="num_agents=64"):
        train.run.train(["--experiment", str(exp), "--map_pattern", "bottleneck-3", "--num_agents", "64",
                         "--envs_per_batch", "8"])
    assert not exp.exists()


def test_map_name_on_the_command_line_replaces_the_presets_pattern(tmp_path, no_spawn):
    cfg, _ = build_config(["--experiment", str(tmp_path / "a"), "--map_name", "bottleneck-5"])
    assert (cfg.env.map_name, cfg.env.map_pattern, cfg.env.grid) == ("bottleneck-5", None, None)
    with pytest.raises(ValueError, match="unknown map 'nope'"):  # was silently shadowed by the preset's pattern
        train.run.train(["--experiment", str(tmp_path / "b"), "--map_name", "nope"])
    assert not (tmp_path / "b").exists()
    cfg, _ = build_config(["--experiment", str(tmp_path / "c")])
    assert cfg.env.map_pattern is not None  # the preset's own maps when none is named


def test_map_sources_are_read_in_the_order_envs_config_states():
    """envs.config.MAP_SOURCES (the one statement of the order, which build_config imports): with a source
    and every later one set, the env's maps come from that source."""
    from envs.config import MAP_SOURCES, resolve_config

    given = {"grid": "....\n....", "map_pattern": "bottleneck-3", "map_name": "bottleneck-5"}
    expected = {"grid": "custom", "map_pattern": "bottleneck-3", "map_name": "bottleneck-5"}
    assert set(MAP_SOURCES) == set(given)
    for i, source in enumerate(MAP_SOURCES):
        env = EnvConfig(**{s: None for s in MAP_SOURCES[:i]}, **{s: given[s] for s in MAP_SOURCES[i:]})
        assert [spec.name for spec in resolve_config(env).maps] == [expected[source]]


def test_imitate_model_fields_are_typed_like_train_overrides():
    from train.overrides import model_field

    assert model_field("hidden=64") == ("hidden", 64)
    assert model_field("memory=stored") == ("memory", "stored")
    with pytest.raises(ValueError, match="'hiden=64' is not FIELD=VALUE with a model field .*fields: .*hidden"):
        model_field("hiden=64")
    with pytest.raises(ValueError, match="'hidden=6.5': .*not an integer"):
        model_field("hidden=6.5")
