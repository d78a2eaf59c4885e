"""Fault injection: training and evaluation end loudly, never hang, and lose nothing saved before.

Each case runs `srmt` in a subprocess under a hard timeout, so a regression fails instead of hanging
CI: killed learner and rollout worker, truncated and NaN checkpoints, a config that diverges, SIGTERM
and SIGINT, for training and evaluation.
"""
import os
import re
import signal
from pathlib import Path

import pytest
import torch

from eval.tables import episode_key
from eval.results import load_records
from eval.suites import get_suite
from srmt.checkpoint import load_policy
from train.bridge.checkpoints import checkpoint_dir, latest_checkpoint, read_checkpoint
from conftest import finish, srmt, wait_for

pytestmark = pytest.mark.slow

SHAPE = ["--map_pattern", "bottleneck-(3|4|5)", "--max_episode_steps", "16", "--envs_per_batch", "8",
         "--batch_size", "256", "--stats_avg", "4", "--train_for_env_steps", "1e9"]
PARALLEL = [*SHAPE, "--serial_mode", "false", "--async_rl", "true", "--num_workers", "1"]
LIMIT = 30.0
"""Seconds within which a fault must end the run."""


def process_pid(exp: Path, pattern: str) -> int | None:
    log = exp / "train.log"
    found = re.search(pattern, log.read_text(errors="replace")) if log.is_file() else None
    return int(found.group(1)) if found else None


def _steps(path: Path) -> int:
    return int(path.stem.split("_")[-1])


@pytest.mark.parametrize("which, pattern", [("learner", r"LearnerWorker_p0\tpid (\d+)"),
                                            ("rollout worker", r"ROLLOUT worker 0\tpid (\d+)")])
def test_killed_training_process_ends_the_run(tmp_path, which, pattern):
    exp = tmp_path / "exp"
    proc = srmt("train", "--experiment", str(exp), *PARALLEL, "--save_every_sec", "1")
    wait_for(lambda: latest_checkpoint(exp) is not None and process_pid(exp, pattern), proc)
    saved = latest_checkpoint(exp)
    os.kill(process_pid(exp, pattern), signal.SIGKILL)
    code, output, seconds = finish(proc, LIMIT)
    assert code != 0 and seconds < LIMIT
    assert re.search(r"Training failed: training process \d+ died", output), output[-2000:]
    assert read_checkpoint(latest_checkpoint(exp))["env_steps"] >= _steps(saved)  # nothing lost
    load_policy(exp / "policy.pt")


def test_diverging_config_stops_with_the_causes_and_writes_no_nan(tmp_path):
    exp = tmp_path / "exp"
    code, output, seconds = finish(srmt("train", "--experiment", str(exp), *PARALLEL,
                                        "--value_loss_coeff", "1e38", "--max_train_seconds", "60"), 90)
    assert code != 0
    assert "training diverged at train step 1" in output and "--learning_rate" in output
    assert "Training failed:" in output
    assert latest_checkpoint(exp) is None and not (exp / "policy.pt").exists()  # no NaN weights anywhere


def _frames_logged(exp: Path) -> bool:
    """Whether sample-factory logged a non-zero frame count in the experiment's train.log."""
    log = exp / "train.log"
    return log.is_file() and re.search(r"Total num frames: [1-9]", log.read_text(errors="replace")) is not None


def _checkpoints(exp: Path) -> list[Path]:
    return sorted(checkpoint_dir(exp).glob("checkpoint_*.pth"))


def _train_until(run: list[str], predicate) -> str:
    """`srmt train` until `predicate` holds, then Ctrl-C (it saves a checkpoint and exits 130); its output."""
    proc = srmt(*run, "--max_train_seconds", "120")
    wait_for(predicate, proc)
    proc.send_signal(signal.SIGINT)
    code, output, _ = finish(proc, 60)
    assert code == 130, output[-2000:]
    return output


def test_truncated_and_nan_checkpoints_are_skipped_on_resume(tmp_path):
    exp = tmp_path / "exp"
    run = ["train", "--experiment", str(exp), *SHAPE, "--serial_mode", "true", "--async_rl", "false",
           "--save_every_sec", "1", "--keep_checkpoints", "3"]
    _train_until(run, lambda: len(_checkpoints(exp)) >= 3)
    paths = _checkpoints(exp)
    assert len(paths) == 3, paths  # keep_checkpoints
    intact, nan, truncated = paths
    state = read_checkpoint(nan)
    state["model"] = {k: torch.full_like(v, float("nan")) if v.is_floating_point() else v
                      for k, v in state["model"].items()}
    torch.save(state, nan)
    truncated.write_bytes(truncated.read_bytes()[: truncated.stat().st_size // 2])

    damaged = checkpoint_dir(exp) / "damaged"
    output = _train_until(run, lambda: (damaged / nan.name).is_file() and (damaged / truncated.name).is_file()
                          and _steps(latest_checkpoint(exp)) > _steps(intact))  # moved, then trained on
    assert f"Skipped checkpoint {truncated.name} (unreadable" in output
    assert f"Skipped checkpoint {nan.name} (non-finite weights" in output
    assert (damaged / truncated.name).is_file()  # moved, not deleted
    assert re.search(rf"Loaded experiment state at .*env_steps={_steps(intact)}",
                     (exp / "train.log").read_text())
    assert _steps(latest_checkpoint(exp)) > _steps(intact)


def test_no_intact_checkpoint_is_a_clear_error(tmp_path):
    exp = tmp_path / "exp"
    run = ["train", "--experiment", str(exp), *SHAPE, "--serial_mode", "true", "--async_rl", "false"]
    _train_until(run, lambda: _frames_logged(exp))  # Ctrl-C saves a checkpoint
    assert _checkpoints(exp)
    for path in _checkpoints(exp):
        path.write_bytes(b"\x00" * 10)
    code, output, seconds = finish(srmt(*run, "--max_train_seconds", "6"), LIMIT)
    assert code == 2 and seconds < LIMIT
    assert "no intact checkpoint to resume" in output and "start over with a new --experiment" in output
    assert len(_checkpoints(exp)) >= 1  # nothing moved or deleted


@pytest.mark.parametrize("signum, code", [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_signal_saves_exports_and_exits_cleanly_in_the_background(tmp_path, signum, code):
    exp = tmp_path / "exp"
    proc = srmt("train", "--experiment", str(exp), *PARALLEL, "--save_every_sec", "600",
                preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))  # like a background job
    wait_for(lambda: _frames_logged(exp), proc)
    proc.send_signal(signum)
    got, output, seconds = finish(proc, 60)
    assert got == code, output[-2000:]
    assert "saving a checkpoint and stopping" in output
    assert load_policy(exp / "policy.pt").meta["env_steps"] == _steps(latest_checkpoint(exp)) > 0


@pytest.mark.parametrize("signum, code", [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_evaluation_stops_on_signals_keeps_its_records_and_resumes(tmp_path, signum, code):
    out = tmp_path / "eval"
    args = ["eval", "mazes", "--maps", "validation-mazes-seed-00[0-3]", "--agents", "8", "16", "32",
            "--backend", "torch", "--workers", "1", "--out", str(out), "--no-progress"]
    proc = srmt(*args, preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))
    records = out / "episodes.jsonl"
    wait_for(lambda: records.is_file() and records.read_text().count("\n") >= 1, proc)
    proc.send_signal(signum)
    got, output, _ = finish(proc, LIMIT)
    assert got == code and "finished episodes are saved; rerun the same command to resume" in output
    total = len(get_suite("mazes").episodes(maps="validation-mazes-seed-00[0-3]", agents=[8, 16, 32]))
    kept = len(load_records(records))
    assert 1 <= kept < total
    done, output, _ = finish(srmt(*args), 120)
    assert done == 0 and f"{total - kept} episodes run, {kept} already done" in output
    keys = [episode_key(r) for r in load_records(records)]
    assert len(keys) == len(set(keys)) == total


@pytest.mark.parametrize("signum, code", [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_imitation_saves_its_policy_on_signals(tmp_path, signum, code):
    import subprocess
    import sys

    from conftest import ROOT

    out, log = tmp_path / "bc.pt", tmp_path / "output.txt"
    with open(log, "w") as output:
        proc = subprocess.Popen([sys.executable, "-m", "cli.main", "imitate", "--out", str(out), "--envs", "1",
                                 "--rollout", "2", "--minibatch-envs", "1", "--samples", "1e8"],
                                cwd=ROOT, stdout=output, stderr=subprocess.STDOUT, start_new_session=True,
                                preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))
    wait_for(lambda: "  samples " in log.read_text(), proc, log=log)  # the first update is done
    proc.send_signal(signum)
    try:
        got = proc.wait(LIMIT)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        pytest.fail(f"hung for more than {LIMIT} s after the signal")
    assert got == code and f"saved the policy so far: {out}" in log.read_text(), log.read_text()[-2000:]
    assert load_policy(out).meta["env_steps"] > 0
