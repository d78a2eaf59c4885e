"""The relay task (EnvConfig.task='relay', envs/relay.py): its cells, what its observations hide from an agent
and show its partner, the two backends step for step, the refused configs, training's --task, and the
ablation benchmark's --task (runs faked where they would train)."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

import benchmarks
from benchmarks import bench_ablation as ab
from envs.backends import make_backend
from envs.config import EnvConfig, resolve_config
from envs.errors import EnvConfigError
from envs.relay import RELAY_STEPS, relay_starts_goals, task_view
from envs.task import task_for_seed

LEFT, RIGHT, STAY = 3, 4, 0
RELAY = EnvConfig(map_name="bottleneck-3", task="relay")


def relay_env(backend: str, num_envs: int = 4, **changes):
    return make_backend(backend, RELAY.replace(**changes), num_envs, auto_reset=False)


def start(env, seeds) -> torch.Tensor:
    for e, seed in enumerate(seeds):
        env.reset_env(e, task_for_seed(env.resolved, 0, seed))
    return env.observe()


OBSTACLES_AT_START = [[0, 0, 0, 0, 0], [-1, -1, -1, -1, -1], [0, 0, 0, 0, 0], [0, 0, 0, 0, 0], [-1, -1, 0, -1, -1]]
"""Channel 0 of agent 0 at (0, 4) on bottleneck-3: pogema's border ring above the map, free cells beyond it,
room A's two rows, the corridor's first row; no path (its goal is 4 cells away)."""


def test_seed_bits_choose_each_agents_end_on_its_outer_row():
    assert [relay_starts_goals(3, seed) for seed in range(4)] == [
        ([(0, 4), (6, 4)], [(0, 0), (6, 0)]), ([(0, 4), (6, 4)], [(0, 8), (6, 0)]),
        ([(0, 4), (6, 4)], [(0, 0), (6, 8)]), ([(0, 4), (6, 4)], [(0, 8), (6, 8)])]
    assert relay_starts_goals(27, 5) == ([(0, 4), (30, 4)], [(0, 8), (30, 0)])
    resolved = resolve_config(RELAY.replace(seed=3))
    assert task_for_seed(resolved, 0, 6).goals == ((0, 0), (6, 8))


@pytest.mark.parametrize("backend", ["pogema", "torch"])
def test_an_agent_sees_nothing_of_its_own_side_and_its_partners_side_at_the_window_edge(backend):
    obs = start(relay_env(backend), range(4)).view(4, 2, 3, 5, 5)              # seeds 0..3: (left|right)^2
    for e in range(4):
        for a in range(2):
            view = obs[e, a]
            assert view[0].tolist() == (OBSTACLES_AT_START if a == 0 else OBSTACLES_AT_START[::-1])
            assert view[1].tolist() == [[0] * 5, [0] * 5, [0, 0, 1, 0, 0], [0] * 5, [0] * 5]
            partner_right = (e >> (1 - a)) & 1
            cue = torch.zeros(5, 5)
            cue[2, 4 if partner_right else 0] = 1
            assert torch.equal(view[2], cue)
    # an agent's whole observation is the same whichever end its own goal is at: seeds 0 and 1 differ only in
    # agent 0's end, 0 and 2 only in agent 1's
    assert torch.equal(obs[0, 0], obs[1, 0]) and torch.equal(obs[0, 1], obs[2, 1])
    assert not torch.equal(obs[0, 1], obs[1, 1]) and not torch.equal(obs[0, 0], obs[2, 0])


@pytest.mark.parametrize("backend", ["pogema", "torch"])
def test_the_path_appears_once_the_goal_is_in_the_window_and_not_before(backend):
    env = relay_env(backend, num_envs=1)
    start(env, [2])                                                 # agent 0 to (0, 0), agent 1 to (6, 8)
    seen = []
    for _ in range(2):
        obs, *_ = env.step(torch.tensor([LEFT, RIGHT]))
        seen.append(obs[:, 0].clamp(min=0).sum(dim=(1, 2)).tolist())
    assert seen == [[0.0, 0.0], [2.0, 2.0]]                        # at (0, 2): path cells (0, 1), (0, 0)
    assert obs[0, 0, 2].tolist() == [1.0, 1.0, 0.0, 0.0, 0.0]
    standard = make_backend(backend, EnvConfig(map_name="bottleneck-3", max_episode_steps=7), 1, auto_reset=False)
    standard.reset_env(0, env.tasks[0])
    for _ in range(2):
        plain, *_ = standard.step(torch.tensor([LEFT, RIGHT]))
    assert torch.equal(obs[:, 0], plain[:, 0])                      # in view: channel 0 as in the standard task


def play(env, actions: torch.Tensor) -> list[tuple[int, float, float, bool]]:
    """(step it ended, CSR, SoC, truncated) of every env, all agents repeating `actions` (N,)."""
    ends = {}
    for t in range(1, RELAY_STEPS + 1):
        _, _, _, truncated, infos = env.step(actions)
        for e in infos["ended"].nonzero().flatten().tolist():
            ends[e] = (t, float(infos["metrics"]["CSR"][2 * e]), float(infos["metrics"]["SoC"][2 * e]),
                       bool(truncated[2 * e]))
        if bool(env.frozen.all()):
            break
    return [ends[e] for e in sorted(ends)]


@pytest.mark.parametrize("backend", ["pogema", "torch"])
def test_episodes_end_at_the_deadline_and_told_agents_arrive(backend):
    told = torch.tensor([LEFT, LEFT, RIGHT, LEFT, LEFT, RIGHT, RIGHT, RIGHT])    # each agent's end, seeds 0..3
    outcomes = {}
    for name, actions in (("told", told), ("left", torch.full((8,), LEFT)), ("stay", torch.full((8,), STAY))):
        env = relay_env(backend)
        start(env, range(4))
        outcomes[name] = play(env, actions)
    assert outcomes == {
        "told": [(4, 1.0, 8.0, False)] * 4,
        "left": [(4, 1.0, 8.0, False), (7, 0.0, 11.0, True), (7, 0.0, 11.0, True), (7, 0.0, 14.0, True)],
        "stay": [(7, 0.0, 14.0, True)] * 4}


def test_both_backends_give_the_same_episodes_step_for_step():
    rng = np.random.default_rng(0)
    envs = [make_backend(b, RELAY.replace(map_pattern="bottleneck-(3|8|12)", map_name=None, seed=11), 6)
            for b in ("pogema", "torch")]
    first = [env.reset()[0] for env in envs]
    assert torch.equal(first[0], first[1])
    ended = arrived = 0
    for _ in range(40):
        actions = torch.from_numpy(rng.choice(5, size=12, p=[0.1, 0.1, 0.1, 0.35, 0.35]))   # mostly along rows
        out = [env.step(actions) for env in envs]
        for a, b in zip(out[0][:4], out[1][:4]):
            assert torch.equal(a, b)
        assert torch.equal(out[0][4]["ended"], out[1][4]["ended"])
        for name, values in out[0][4]["metrics"].items():
            assert torch.equal(values.nan_to_num(-1), out[1][4]["metrics"][name].nan_to_num(-1))
        ended += int(out[0][4]["ended"].sum())
        arrived += int(out[0][4]["metrics"]["ISR"].nan_to_num(0).sum())
    assert (ended, arrived) == (30, 3)            # 6 envs x 5 episodes of 7 steps; 3 agents reached their goal
    assert torch.equal(envs[0].positions, envs[1].positions)


@pytest.mark.parametrize("backend", ["pogema", "torch"])
def test_goals_in_view_are_not_shown_only_the_partners_side(backend):
    env = relay_env(backend, num_envs=1)
    start(env, [0])                                                 # agent 1's goal: (6, 0)
    env.positions[0, 0] = torch.tensor([5, 2])                      # agent 0 put in room B, (6, 0) in view
    relay = env.observe()[0, 2]
    standard = make_backend(backend, EnvConfig(map_name="bottleneck-3"), 1, auto_reset=False)
    standard.reset_env(0, env.tasks[0])
    standard.positions[0, 0] = torch.tensor([5, 2])
    assert standard.observe()[0, 2, 3, 0] == 1                      # the standard task shows that goal
    cue = torch.zeros(5, 5)
    cue[2, 0] = 1                                                   # relay: only the partner's side (left)
    assert torch.equal(relay, cue)


@pytest.mark.parametrize("guidance", ["cost-to-go", "congestion-path"])
def test_every_guidance_is_hidden_until_the_goal_is_in_view(guidance):
    envs = [relay_env(b, num_envs=4, guidance=guidance) for b in ("pogema", "torch")]
    before = [start(env, range(4)) for env in envs]
    after = [play_steps(env, torch.tensor([LEFT, RIGHT] * 4), 2) for env in envs]
    assert torch.equal(before[0], before[1]) and torch.equal(after[0], after[1])
    assert before[0][:, 0].max() == 0
    shown = (after[0][:, 0] > 0).any(dim=2).any(dim=1).tolist()    # seeds 0..3: agent 0 left, agent 1 right
    assert shown == [True, False, False, False, True, True, False, True]


def play_steps(env, actions: torch.Tensor, steps: int) -> torch.Tensor:
    for _ in range(steps):
        obs, *_ = env.step(actions)
    return obs


def test_the_standard_task_is_untouched():
    env = make_backend("torch", EnvConfig(map_name="bottleneck-3"), 1)
    obs, _ = env.reset()
    assert task_view(env, obs) is obs
    task = task_for_seed(env.resolved, 0, 0)                        # docs/maps.md: seed 0 on bottleneck-3
    assert (task.starts, task.goals) == (((1, 6), (6, 2)), ((5, 8), (0, 4)))
    cfg = EnvConfig(map_name="bottleneck-3")
    assert resolve_config(cfg).config is cfg and cfg.task == "standard"
    assert EnvConfig.from_dict({"map_name": "bottleneck-3"}).task == "standard"  # configs saved before the field


def test_the_relay_deadline_caps_the_episode_length():
    assert resolve_config(RELAY).config.max_episode_steps == 7           # the default 512, capped
    assert resolve_config(RELAY.replace(max_episode_steps=5)).config.max_episode_steps == 5


@pytest.mark.parametrize("changes, says", [
    (dict(task="relais"), "task='relais' is not one of ['standard', 'relay']"),
    (dict(num_agents=3), "task='relay' is a two-agent task: num_agents=3 must be 2"),
    (dict(on_target="nothing"), "task='relay' needs on_target='finish'"),
    (dict(obs_radius=3), "obs_radius=3 would show an end of the room after 1 step(s); use obs_radius <= 2"),
    (dict(starts=((0, 4), (6, 4)), goals=((0, 0), (6, 8))), "task='relay' places its own starts and goals"),
    (dict(map_name="open-8x8"), "map 'open-8x8' is not one"),
    (dict(map_name=None, grid="....\n...."), "map 'custom' is not one"),
])
def test_configs_the_relay_task_cannot_play_are_refused(changes, says):
    with pytest.raises(EnvConfigError) as err:
        resolve_config(RELAY.replace(**changes))
    assert says in str(err.value)


def test_every_relay_problem_is_reported_at_once():
    with pytest.raises(EnvConfigError) as err:
        resolve_config(RELAY.replace(num_agents=3, obs_radius=4, on_target="nothing"))
    assert str(err.value).count("task='relay'") == 3


def test_training_takes_the_task_from_the_command_line():
    from train.config import TrainConfigError
    from train.overrides import build_config

    config, _ = build_config(["--preset", "bottleneck", "--task", "relay", "--experiment", "/nonexistent/x"])
    assert config.env.task == "relay" and config.env.map_pattern is not None
    assert resolve_config(config.env).config.max_episode_steps == 7
    with pytest.raises((TrainConfigError, EnvConfigError), match="task='relais' is not one of"):
        resolve_config(build_config(["--preset", "bottleneck", "--task", "relais",
                                     "--experiment", "/nonexistent/x"])[0].env)


# ----------------------------------------------------------------- the ablation benchmark
def test_plan_and_train_command_carry_the_task(tmp_path):
    runs = ab.plan(["srmt", "empty"], ["sparse"], 1, "relay")
    assert [r.key for r in runs] == ["relay-sparse-srmt-seed0", "relay-sparse-empty-seed0"]
    job = ab.Job(runs[0], 1000, str(tmp_path))
    assert job.train_command()[3:8] == ["train", "--preset", "bottleneck", "--task", "relay"]
    assert ab.plan(["srmt"], ["sparse"], 1)[0].key == "sparse-srmt-seed0"   # standard: keys and commands as before
    assert "--task" not in ab.Job(ab.plan(["srmt"], ["sparse"], 1)[0], 1000, str(tmp_path)).train_command()
    with pytest.raises(ab.AblationError, match=r"--task 'relais' is not one of \['standard', 'relay'\]"):
        ab.plan(["srmt"], ["sparse"], 1, "relais")


def test_a_bad_task_exits_2_before_any_work(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(ab, "run_one", lambda job: pytest.fail("trained"))
    work = tmp_path / "work"
    assert benchmarks.main(["ablation", "--task", "relais", "--work", str(work)]) == 2 and not work.exists()
    assert "--task 'relais'" in capsys.readouterr().err


class Scripted:
    """Walks to the end its partner's observation shows (what shared memory carries), or always left."""

    name, obs_radius = "scripted", 2

    def __init__(self, told: bool):
        self.told = told

    def reset(self, num_envs, num_agents, seeds=None):
        self.side = torch.full((num_envs * num_agents,), LEFT)

    def reset_envs(self, envs, seeds=None):
        pass

    def act(self, obs, env):
        cue = obs.view(env.num_envs, 2, 3, 5, 5)[:, :, 2, 2].flip(1).reshape(-1, 5)   # partner's row of channel 2
        shown = torch.where(cue[:, 0] > 0, LEFT, RIGHT)
        if self.told:
            self.side = torch.where(cue.sum(dim=1) > 0, shown, self.side)
        return self.side.clone()


def test_the_relay_evaluation_plays_the_relay_task(monkeypatch, tmp_path):
    told = ab.per_length(ab.relay_records(Scripted(True), "torch", lengths=(3, 30), seeds=range(8)))
    assert told == {L: dict(CSR=1.0, ISR=1.0, SoC=8.0, episodes=8) for L in (3, 30)}
    left = ab.per_length(ab.relay_records(Scripted(False), "pogema", lengths=(3,), seeds=range(8)))
    assert left == {3: dict(CSR=0.25, ISR=0.5, SoC=(2 * 8 + 4 * 11 + 2 * 14) / 8, episodes=8)}
    # a run of the relay task evaluates there and records its task
    job = ab.Job(ab.plan(["srmt"], ["sparse"], 1, "relay")[0], 1000, str(tmp_path))
    monkeypatch.setattr(ab, "train", lambda job: tmp_path)
    records = ab.relay_records
    monkeypatch.setattr(ab, "relay_records", lambda spec, backend: records(Scripted(True), backend, lengths=(3,),
                                                                             seeds=range(4)))
    monkeypatch.setattr(ab, "csr_curve", lambda experiment: [(4096, 0.95)])
    import srmt.checkpoint

    monkeypatch.setattr(srmt.checkpoint, "load_policy", lambda path: type("P", (), {"meta": {"env_steps": 1000}}))
    record = ab.run_one(job)
    assert (record["key"], record["task"], record["per_length"]) == (
        "relay-sparse-srmt-seed0", "relay", {"3": dict(CSR=1.0, ISR=1.0, SoC=8.0, episodes=4)})


def test_a_work_directory_holds_one_task(tmp_path, monkeypatch):
    ran: list[str] = []

    def fake(job):
        ran.append(job.run.key)
        return dict(key=job.run.key, task=job.run.task, reward=job.run.reward, cell=job.run.cell.name,
                    seed=job.run.seed, budget=job.budget, steps_to_csr90=None,
                    per_length={"3": dict(CSR=1.0, ISR=1.0, SoC=8.0, episodes=40)})

    monkeypatch.setattr(ab, "run_one", fake)
    out = tmp_path / "relay.json"
    argv = ["ablation", "--task", "relay", "--cells", "srmt", "--rewards", "sparse", "--seeds", "1",
            "--budget", "5000", "--work", str(tmp_path / "w")]
    assert benchmarks.main([*argv, "--out", str(out)]) == 0 and ran == ["relay-sparse-srmt-seed0"]
    saved = json.loads(out.read_text())
    assert saved["figures"]["task"] == "relay" and "relay test set (L = 3, 10, 30, 100 x seeds 0..39" in saved["title"]
    assert saved["figures"]["summary"][0]["CSR_long"] == {"mean": None, "lo": None, "hi": None}
    record = tmp_path / "w" / "results" / "relay-sparse-srmt-seed0.json"
    record.write_text(json.dumps({**json.loads(record.read_text()), "task": "standard"}))
    assert benchmarks.main(argv) == 2                                # a finished run of another task
    record.unlink()
    train_dir = tmp_path / "w" / "runs" / "relay-sparse-srmt-seed0" / "train"
    train_dir.mkdir(parents=True)
    (train_dir / "srmt_config.json").write_text(json.dumps({"config": {"env": {"task": "standard"}, "model": {}}}))
    ran.clear()
    assert benchmarks.main(argv) == 2 and ran == []                  # a training of another task to resume
