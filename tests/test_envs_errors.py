"""Bad environment input gets a clear EnvConfigError naming the problem and the fix."""
import pytest

from envs.backends import BACKENDS, make_backend
from envs.config import EnvConfig, resolve_config
from envs.errors import EnvConfigError


@pytest.mark.parametrize("changes, message", [
    (dict(map_name="botleneck-3"), r"unknown map 'botleneck-3'.*bottleneck-3"),
    (dict(grid=""), r"empty"),
    (dict(grid="...\n..\n..."), r"row 1 has length 2 but row 0 has length 3"),
    (dict(grid="..x\n..."), r"'x'"),
    # bottleneck-3 has 4 room rows of 9 cells and a 3-cell corridor: 36 + 3 = 39 free cells
    (dict(map_name="bottleneck-3", num_agents=40), r"num_agents=40 is more than the 39 free cells"),
    (dict(starts=((2, 0), (6, 8)), goals=((6, 4), (0, 8))), r"starts\[0\]=\(2, 0\) is on an obstacle"),
    (dict(starts=((0, 0), (6, 8)), goals=((6, 4), (3, 0))), r"goals\[1\]=\(3, 0\) is on an obstacle"),
    (dict(grid="..#..", num_agents=1, starts=((0, 0),), goals=((0, 4),)), r"cannot be reached"),
    (dict(obs_radius=0), r"obs_radius=0 must be an integer >= 1"),
    (dict(max_episode_steps=0), r"max_episode_steps=0 must be an integer >= 1"),
    (dict(reward="shaped"), r"reward='shaped' is not one of \['directional'"),
    (dict(collision_system="none"), r"collision_system='none' is not one of \['block_both', 'soft', 'priority'\]"),
    (dict(on_target="vanish"), r"on_target='vanish' is not one of"),
    (dict(maps_dir="/no/such/dir"), r"/no/such/dir.*(--maps-dir|SRMT_MAPS_DIR)"),
    (dict(num_agents=0), r"num_agents=0 must be an integer >= 1"),
    (dict(on_target="restart", reward="sparse"), r"reward='sparse' does not fit on_target='restart'"),
    (dict(starts=((0, 0), (0, 1))), r"give both starts and goals"),
    (dict(starts=((0, 0),), goals=((6, 4),)), r"starts has 1 cells but num_agents=2"),
    (dict(map_name=None, map_pattern="nothing-like-this"), r"nothing-like-this"),
])
def test_bad_config_is_reported_clearly(changes, message):
    cfg = EnvConfig(map_name="bottleneck-3").replace(**changes)
    with pytest.raises(EnvConfigError, match=message):
        resolve_config(cfg)


def test_every_problem_is_listed_at_once():
    cfg = EnvConfig(obs_radius=0, max_episode_steps=-1, reward="nope")
    with pytest.raises(EnvConfigError) as err:
        resolve_config(cfg)
    text = str(err.value)
    assert "obs_radius" in text and "max_episode_steps" in text and "reward" in text


def test_unknown_config_field_is_rejected():
    with pytest.raises(EnvConfigError, match=r"unknown EnvConfig field\(s\) \['radius'\]"):
        EnvConfig().replace(radius=3)


@pytest.mark.parametrize("backend", sorted(BACKENDS))
def test_batched_env_validates_before_building_anything(backend):
    with pytest.raises(EnvConfigError, match="obs_radius"):
        make_backend(backend, EnvConfig(obs_radius=0), num_envs=2)
    with pytest.raises(ValueError, match="num_envs=0"):
        make_backend(backend, EnvConfig(), num_envs=0)
