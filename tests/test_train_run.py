"""Real (tiny) sample-factory training runs: replay invariant, TensorBoard metrics, export, resume, Ctrl-C.

Every run is a subprocess with a timeout: a sample-factory component that
fails while starting can hang its runner for minutes.
"""
from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from envs.config import EnvConfig
from envs.pogema_backend import PogemaBatchedEnv
from srmt.checkpoint import load_policy
from train.bridge.checkpoints import latest_checkpoint, read_checkpoint
from conftest import built_once

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
TINY_SHAPE = ["--map_pattern", "bottleneck-(3|4|5)", "--max_episode_steps", "16", "--envs_per_batch", "8",
              "--batch_size", "256", "--stats_avg", "4", "--experiment_summaries_interval", "1"]
TINY = [*TINY_SHAPE, "--serial_mode", "true", "--async_rl", "false"]

REPLAY_PROBE = """
import json, sys
from sample_factory.algo.learning.learner import Learner
from sample_factory.algo.runners.runner import Runner
records, original = [], Learner._calculate_losses
episodes, original_stats = [], Runner._episodic_stats_handler

def probe(self, mb, num_invalids):
    result = original(self, mb, num_invalids)
    deviation = (result[-1]["ratio"].detach()[mb.valids] - 1).abs()
    records.append(dict(train_step=self.train_step, max_deviation=float(deviation.max()),
                        valid=int(mb.valids.sum()), size=int(len(mb.valids)),
                        memory_head=float(self.actor_critic.policy.core.memory_head.weight.sum())))
    return result

def stats_probe(runner, msg, policy_id):  # serial mode: the runner lives in this process
    episodes.append(msg["episodic"]["metrics/CSR"].tolist())  # one per done row of one env step
    original_stats(runner, msg, policy_id)

Learner._calculate_losses = probe
Runner._episodic_stats_handler = staticmethod(stats_probe)
from cli.main import main
code = main(["train", *sys.argv[2:]])
json.dump(dict(minibatches=records, episodes=episodes), open(sys.argv[1], "w"))
sys.exit(code)
"""


def _train(args, timeout, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "cli.main", "train", *args], cwd=ROOT, env=ENV, timeout=timeout,
                          capture_output=True, text=True, **kwargs)


def _wait_for(predicate, timeout: float, proc: subprocess.Popen) -> None:
    deadline = time.time() + timeout
    while not predicate():
        if proc.poll() is not None:
            raise AssertionError(f"training exited early with code {proc.returncode}")
        if time.time() > deadline:
            raise AssertionError("timed out waiting for training to progress")
        time.sleep(0.2)


def _frames_logged(exp: Path) -> int:
    """The newest "Total num frames" sample-factory logged (0 before any)."""
    log = exp / "sf_log.txt"
    frames = re.findall(r"Total num frames: (\d+)", log.read_text()) if log.is_file() else []
    return int(frames[-1]) if frames else 0


def _checkpoint_steps(exp: Path) -> int:
    path = latest_checkpoint(exp)
    return -1 if path is None else int(path.stem.split("_")[-1])


def _replay_run(exp: Path, *args: str) -> dict:
    """A serial, synchronous run under REPLAY_PROBE: its minibatch records and per-step episode CSRs."""
    out = exp.parent / "probe.json"
    proc = subprocess.run([sys.executable, "-c", REPLAY_PROBE, str(out), "--experiment", str(exp), *TINY,
                           "--num_batches_per_epoch", "2", "--max_train_seconds", "400", *args], cwd=ROOT,
                          env=ENV, timeout=500, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(out.read_text())


@pytest.fixture(scope="module")
def learned_run(tmp_path_factory) -> tuple[Path, dict]:
    """One seeded run of the default memory mode ('learned'), shared by the tests that read it (built once
    per test run, whichever xdist workers run them). Long enough for sample-factory to write perf/_fps: it
    needs two of its 5-second throughput reports, so a run that ends within ~10 s (12,288 steps on an idle
    machine) has none."""
    folder = built_once(tmp_path_factory, "learned-run", lambda d: _replay_run(d / "exp", "--train_for_env_steps",
                                                                               "30000"))
    return folder / "exp", json.loads((folder / "probe.json").read_text())


def _check_replay(records: list[dict], iterations: int) -> None:
    """Replay: on the first minibatch of every iteration (sync mode, before any update) the learner's
    recomputed log-probs equal the acting-time ones; the second minibatch (after one update) differs."""
    first = [r for r in records if r["train_step"] % 2 == 0]
    # 256 = TINY's --batch_size, 2 minibatches per iteration
    assert len(first) >= iterations and all(r["valid"] == r["size"] == 256 for r in first)
    assert max(r["max_deviation"] for r in first) < 1e-5
    assert max(r["max_deviation"] for r in records if r["train_step"] % 2 == 1) > 1e-4


def test_replay_ratio_is_one_and_metrics_reach_tensorboard(learned_run):
    exp, probe = learned_run
    _check_replay(probe["minibatches"], 10)  # 30,000 steps / (2 minibatches x 256) = 58 iterations; 10 a floor

    # Episode metrics, reward and FPS in TensorBoard
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(exp / ".summary" / "0"))
    events.Reload()
    tags = set(events.Tags()["scalars"])
    assert {"metrics/CSR", "metrics/ISR", "metrics/SoC", "reward/reward", "perf/_fps"} <= tags
    # The seeded run (serial, synchronous, stopped by its step budget: the same episodes every time) ends
    # its 8 envs together every 16 steps (max_episode_steps), 30,720 steps / (8 x 2 x 16) = 120 times, and
    # solves none of those 960 episodes (16 steps are too few for both agents to cross the corridor, barely
    # trained): CSR 0 on all 16 done rows of every report. TensorBoard shows the mean over the newest report.
    episodes = probe["episodes"]
    assert [len(rows) for rows in episodes] == [16] * 120 and {v for rows in episodes for v in rows} == {0.0}
    assert [e.value for e in events.Scalars("metrics/CSR")] == [0.0] * len(events.Scalars("metrics/CSR"))

    # Export: policy.pt is the last checkpoint, and isolation holds for the trained weights
    policy = load_policy(exp / "policy.pt")
    assert policy.meta["env_steps"] == _checkpoint_steps(exp) == 30720  # 60 iterations of 512
    assert policy.meta["command"].startswith("srmt train --experiment")
    assert (exp / "sf_log.txt").is_file() and (exp / "srmt_config.json").is_file()
    _check_isolation(policy.model)


@pytest.mark.parametrize("memory", ["stored", "rebuilt", "learned"])
def test_replay_ratio_is_one_in_every_memory_mode(tmp_path, memory, request):
    """The learner's rebuilt pools (and, learned, its own memories chained over the rollout) replay acting
    exactly before the first update; only with learned memory does the memory head change."""
    if memory == "learned":  # the default: the run of the test above
        exp, probe = request.getfixturevalue("learned_run")
    else:
        exp = tmp_path / "exp"
        probe = _replay_run(exp, "--memory", memory, "--train_for_env_steps", "10000")
    records = probe["minibatches"]
    _check_replay(records, 4)  # 10,000 / 512 ~ 19 iterations
    head_moved = len({r["memory_head"] for r in records}) > 1
    assert head_moved == (memory == "learned")
    assert load_policy(exp / "policy.pt").model_config.memory == memory


def _check_isolation(model) -> None:
    env_cfg = EnvConfig(map_name="bottleneck-5", max_episode_steps=16)
    together, alone = PogemaBatchedEnv(env_cfg, 2), [PogemaBatchedEnv(env_cfg.replace(seed=e), 1) for e in (0, 1)]
    obs, _ = together.reset()
    single = [env.reset()[0] for env in alone]
    state = model.initial_state(2, 4)
    states = [model.initial_state(2, 2) for _ in alone]
    with torch.no_grad():
        for _ in range(12):
            logits, _, state = model(obs, state, 2)
            for e, env in enumerate(alone):
                single_logits, _, states[e] = model(single[e], states[e], 2)
                torch.testing.assert_close(single_logits, logits[2 * e:2 * e + 2], rtol=1e-5, atol=1e-5)
                single[e] = env.step(single_logits.argmax(1))[0]
            obs = together.step(logits.argmax(1))[0]


def test_sigkill_then_same_command_resumes(tmp_path):
    exp = tmp_path / "exp"
    command = ["--experiment", str(exp), *TINY, "--save_every_sec", "1", "--train_for_env_steps", "1e9",
               "--max_train_seconds", "20"]  # the rerun trains on after its start-up, also on a busy machine
    proc = subprocess.Popen([sys.executable, "-m", "cli.main", "train", *command], cwd=ROOT, env=ENV,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        _wait_for(lambda: _checkpoint_steps(exp) > 0, 60, proc)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    killed_at = _checkpoint_steps(exp)

    again = _train(command, timeout=90)
    assert again.returncode == 0, again.stderr[-3000:]
    # sample-factory's own log goes to the experiment's train.log; the terminal shows our notices
    loaded = re.search(r"Loaded experiment state at self.train_step=(\d+), self.env_steps=(\d+)",
                       (exp / "train.log").read_text())
    assert loaded and int(loaded.group(2)) >= killed_at > 0
    assert "Stopping training: wall-clock budget of 20 s spent" in again.stderr
    final = read_checkpoint(latest_checkpoint(exp))
    assert final["env_steps"] > killed_at
    assert load_policy(exp / "policy.pt").meta["env_steps"] == final["env_steps"]


def test_ctrl_c_in_a_background_process_saves_then_stops(tmp_path):
    """Also the end-to-end run of the torch backend (the backend plays no part in stopping)."""
    exp = tmp_path / "exp"
    # started like a background job: SIGINT ignored, which training must undo
    proc = subprocess.Popen([sys.executable, "-m", "cli.main", "train", "--experiment", str(exp), *TINY, "--backend", "torch",
                             "--save_every_sec", "600", "--train_for_env_steps", "1e9", "--max_train_seconds", "120"],
                            cwd=ROOT, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN), start_new_session=True)
    try:
        _wait_for(lambda: _frames_logged(exp) > 0, 60, proc)
        assert latest_checkpoint(exp) is None  # save_every_sec=600: no periodic save yet
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 130, stderr[-3000:]
    assert "Ctrl-C: saving a checkpoint" in stderr
    assert _checkpoint_steps(exp) > 0
    assert load_policy(exp / "policy.pt").meta["env_steps"] == _checkpoint_steps(exp)


def test_parallel_mode_stops_at_train_for_env_steps(tmp_path):
    """Learner / inference / rollout processes are spawned: the adaptations must reach them."""
    exp = tmp_path / "exp"
    args = ["--experiment", str(exp), *TINY_SHAPE, "--serial_mode", "false", "--async_rl", "true",
            "--num_workers", "1", "--train_for_env_steps", "4096", "--max_train_seconds", "300"]
    done = _train(args, timeout=360)
    assert done.returncode == 0, done.stderr[-3000:]
    steps = _checkpoint_steps(exp)
    assert 4096 < steps < 4096 + 4 * 256
    assert load_policy(exp / "policy.pt").meta["env_steps"] == steps


def test_lifelong_preset_smoke(tmp_path):
    exp = tmp_path / "exp"
    args = ["--preset", "lifelong", "--experiment", str(exp), "--num_agents", "8", "--hidden", "16",
            "--heads", "2", "--resnet_blocks", "1", "--filters", "4", "--obs_radius", "3",
            "--max_episode_steps", "32", "--envs_per_batch", "2", "--batch_size", "256", "--serial_mode", "true",
            "--async_rl", "false", "--train_for_env_steps", "2048", "--stats_avg", "2"]
    done = _train(args, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    policy = load_policy(exp / "policy.pt")
    assert policy.env_config["map_pattern"] == "train-maze-.*"
    assert policy.env_config["maps_dir"] == str(exp / "maps") and policy.model_config.variant == "srmt"


def test_init_policy_warm_starts_the_learner(tmp_path):
    from srmt.checkpoint import save_policy
    from srmt.config import ModelConfig
    from srmt.model import SRMTPolicy

    torch.manual_seed(3)
    cfg = ModelConfig.preset("bottleneck")
    init = save_policy(tmp_path / "init.pt", SRMTPolicy(cfg), cfg, {}, {"decoding": "sample", "shield": "pibt"})
    exp = tmp_path / "exp"
    proc = _train(["--experiment", str(exp), *TINY, "--init_policy", str(init), "--learning_rate", "1e-12",
                   "--lr_schedule", "constant", "--train_for_env_steps", "2000"], timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "Warm start: checkpoint_000000000_0.pth holds the weights of" in proc.stderr + proc.stdout
    assert "Loaded experiment state at self.train_step=0, self.env_steps=0" in (exp / "sf_log.txt").read_text()
    trained, start = load_policy(exp / "policy.pt").model.state_dict(), load_policy(init).model.state_dict()
    meta = load_policy(exp / "policy.pt").meta
    assert meta["env_steps"] >= 2000
    assert meta["decoding"] == "sample" and meta["shield"] is None  # the warm-start file's decoding, not its
    # shield: the run records its own (srmt train --shield, none here)
    for name, value in start.items():  # a learning rate of 1e-12 leaves the warm-start weights in place
        torch.testing.assert_close(trained[name], value, atol=1e-6, rtol=0)
