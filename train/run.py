"""One training run: the checked config -> sample-factory's runner, with stop, resume and export.

`train(argv)` is `srmt train ARGV`:
1. build and check the config, set damaged checkpoints aside, prepare the
   experiment directory and write a warm start's checkpoint (all before any
   process is spawned; bad input raises ValueError);
2. install the sample-factory adaptations, translate the config into
   sample-factory's (train/managed.py) and register env and model
   (train/bridge/: the memory's way from the env to the learner is on its
   first page);
3. run sample-factory's serial or parallel runner with `TrainingControl` in
   its event loop: every second it stops training (saving a checkpoint first)
   on Ctrl-C or when the wall-clock budget is spent, watches for failed
   processes, exports `policy.pt` whenever a new checkpoint appears and
   redraws the progress line;
4. export the final checkpoint.

The terminal shows one progress line while sample-factory's output goes to
EXPERIMENT/train.log (train/progress.py); `--verbose` shows that log live.

Resume: sample-factory loads the newest checkpoint of the experiment
(`restart_behavior=resume`); the saved config is the base of the overrides
(train/saved_config.py), so running the same command again continues the run.
"""
from __future__ import annotations

import contextlib
import signal
import sys
import time
from pathlib import Path
from typing import Any

import psutil

from srmt.checkpoint import read_policy_file
from train.bridge.adaptations import install_adaptations
from train.bridge.checkpoints import latest_checkpoint, set_aside_damaged
from train.bridge.registration import register
from train.bridge.runner import SUCCESS, RunnerControl, log, make_runner, run_runner, runner_progress
from train.checks import check_config, prepare_experiment, removed_on_refusal
from train.config import TrainConfig
from train.export import POLICY_FILE, export_policy, recommendations
from train.managed import sf_config, sf_value
from train.overrides import build_config
from train.progress import Display
from train.warm_start import warm_start


def train(argv: list[str]) -> int:
    """`srmt train ARGV`: check everything, then train. Bad input raises ValueError before any spawn.
    `--verbose` (not a config option) shows sample-factory's log live instead of the progress line."""
    verbose = "--verbose" in argv
    argv = [a for a in argv if a != "--verbose"]
    cfg, saved = build_config(argv)
    check_config(cfg)
    for path, reason in set_aside_damaged(cfg.run.experiment_dir):  # before any process starts
        print(f"Skipped checkpoint {path.name} ({reason}); moved to {path.parent}", file=sys.stderr)
    with removed_on_refusal(cfg.run.experiment_dir):  # a refused run leaves nothing behind
        cfg, notes = prepare_experiment(cfg, saved, argv)
        if cfg.run.init_policy and latest_checkpoint(cfg.run.experiment_dir) is None:
            warm_start(cfg)
    if saved is not None:
        print(f"Resuming {cfg.run.experiment_dir}" + ("; changed since the saved config: " + "; ".join(notes)
                                                      if notes else ""), file=sys.stderr)
    return run_training(cfg, argv, verbose)


def run_training(cfg: TrainConfig, command: list[str], verbose: bool = False) -> int:
    """Run sample-factory on a checked, prepared config; returns the exit code."""
    started = time.time()
    display = Display(cfg.run.experiment_dir, verbose, cfg.run.train_for_env_steps, cfg.run.max_train_seconds,
                      started)
    with display:
        return _run(cfg, command, started, display)


def _run(cfg: TrainConfig, command: list[str], started: float, display: Display) -> int:
    install_adaptations()  # this process allocates the buffers; spawned ones install through register()
    ns = sf_config(cfg)
    register()
    runner = make_runner(ns)
    control = TrainingControl(runner, cfg, command, started, display)
    # A process started in the background inherits SIGINT ignored: install ours regardless; SIGTERM alike.
    previous = {s: signal.signal(s, control.on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        status = run_runner(runner)
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
    control.export_new()
    if control.exported is None:
        display.note("No checkpoint was written: nothing exported", warning=True)
    else:
        display.note("Policy: %s", cfg.run.experiment_dir / POLICY_FILE)
    if status != SUCCESS:
        display.note("Training failed (sample-factory status %d): the error is above and in %s",
                     status, display.log_path, warning=True)
        return status or 1
    return 128 + control.signal if control.signal is not None else 0


class TrainingFailed(RuntimeError):
    """A training process failed (a traceback, or it died); every process was stopped."""


class TrainingControl(RunnerControl):
    """Lives in the runner's event loop: stops training on Ctrl-C / SIGTERM or budget, exports new
    checkpoints, shows progress, and is the watchdog: a traceback in any training process or a child
    process that died ends the whole run within seconds (TrainingFailed, non-zero exit)."""

    def __init__(self, runner, cfg: TrainConfig, command: list[str], started: float, display: Display):
        RunnerControl.__init__(self, runner, "srmt_training_control", started, cfg.run.max_train_seconds)
        self.cfg = cfg
        self.command = command
        self.display = display
        self.signal: int | None = None
        self.exported: Path | None = None
        self.recommended = recommended(cfg)
        self.children: list[psutil.Process] = []

    # -- signals
    def on_signal(self, signum, frame) -> None:
        if self.signal is not None:
            raise KeyboardInterrupt  # second Ctrl-C: leave without waiting
        self.signal = signum
        name = "Ctrl-C" if signum == signal.SIGINT else signal.Signals(signum).name
        self.display.note(f"{name}: saving a checkpoint and stopping (press Ctrl-C again to abort without saving)",
                          warning=True)

    def tick(self) -> None:
        if not self.stopping and not self.runner.stopped:  # processes end on purpose once stopping
            self.watch()
        if not self.stopping and (self.signal is not None or self.budget_spent()):
            reason = "interrupted" if self.signal is not None else f"wall-clock budget of {self.budget:g} s spent"
            self.display.note("Stopping training: %s", reason)
            self.stop_training()
        self.display.progress(*runner_progress(self.runner))
        self.export_new()

    # -- watchdog
    def watch(self) -> None:
        """TrainingFailed (after stopping every child process) on a traceback or a dead child."""
        # sample-factory's learner / inference / rollout processes (parallel mode), as they appear
        known = {p.pid for p in self.children}
        self.children += [p for p in psutil.Process().children()
                          if p.pid not in known and "spawn_main" in " ".join(_cmdline(p))]
        dead = [p for p in self.children if not _alive(p)]
        failure = self.display.failure
        if dead and not failure:
            failure = f"training process {dead[0].pid} died (killed, or out of memory)"
        if failure is None:
            return
        doomed = [q for p in self.children if _alive(p) for q in [p, *_descendants(p)]]
        for process in doomed:  # not the resource tracker: it cleans up shared memory at exit
            with contextlib.suppress(psutil.Error):
                process.kill()
        deadline = time.time() + 5  # not psutil.wait_procs: it would reap them before multiprocessing does
        while any(_alive(p) for p in doomed) and time.time() < deadline:
            time.sleep(0.05)
        self.display.note("Training failed: %s. Every training process was stopped; the checkpoints written "
                          "before stay (running the same command again resumes from the newest).",
                          failure, warning=True)
        self.display.mute()  # the tracebacks of the shutdown are in train.log
        raise TrainingFailed(failure)

    # -- export
    def export_new(self) -> Path | None:
        """Export the newest checkpoint if it was not exported yet; returns the policy path."""
        checkpoint = latest_checkpoint(self.cfg.run.experiment_dir)
        if checkpoint is None or checkpoint == self.exported:
            return None
        meta = dict(command="srmt train " + " ".join(self.command), preset=self.cfg.run.preset,
                    reward=self.cfg.env.reward, variant=self.cfg.model.variant, backend=self.cfg.run.backend,
                    shield=self.cfg.run.shield,
                    wall_seconds=round(time.time() - self.started, 1), sf=dict(self.cfg.sf), **self.recommended)
        out = self.cfg.run.experiment_dir / POLICY_FILE
        try:
            export_policy(checkpoint, out, self.cfg.model, self.cfg.env.to_dict(), meta)
        except Exception as err:  # noqa: BLE001 - never let an export stop the event loop
            self.display.note("Could not export %s: %s", checkpoint, err, warning=True)
            return None
        self.exported = checkpoint
        log.info("Exported %s -> %s", checkpoint.name, out)
        return out


def recommended(cfg: TrainConfig) -> dict[str, Any]:
    """What the run's exported policies recommend: their decoding, train/export.py `recommendations`."""
    init_meta = read_policy_file(cfg.run.init_policy)["meta"] if cfg.run.init_policy else None
    return recommendations(cfg.env.on_target, init_meta)


def _cmdline(process: psutil.Process) -> list[str]:
    try:
        return process.cmdline()
    except psutil.Error:
        return []


def _descendants(process: psutil.Process) -> list[psutil.Process]:
    try:
        return process.children(recursive=True)
    except psutil.Error:
        return []


def _alive(process: psutil.Process) -> bool:
    try:
        return process.is_running() and process.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def describe(cfg: TrainConfig) -> dict[str, Any]:
    """A short summary of the settings that matter for speed (benchmarks print it)."""
    keys = ("num_workers", "worker_num_splits", "batch_size", "num_batches_per_epoch", "rollout",
            "serial_mode", "async_rl")
    return {"backend": cfg.run.backend, "envs_per_batch": cfg.run.envs_per_batch, "num_agents": cfg.env.num_agents,
            **{k: sf_value(cfg, k) for k in keys}}
