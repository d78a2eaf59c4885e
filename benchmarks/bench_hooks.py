"""The model's hooks cost nothing when off: acting steps of a policy, this checkout against another commit.

The attention-recording hook, the memory interventions and the local pool (all off by default) were
added to the core at 95cf117's child; `--baseline` (default 95cf117, the last commit without them) is
checked out into a temporary git worktree. Each round times `--steps` grouped steps of the core
(`SRMTPolicy.core`, where the hooks live; no_grad, 1 thread) of `--envs` x `--agents` rows of the same
policy file on the same seeded observations' features, once in a fresh process per tree, in
alternating order (the encoder, unchanged and the noisiest part on this machine, is left out). Both
trees must return the same logits (their sums are compared and printed).

    srmt bench hooks --rounds 5 --out docs/results/bench/hooks.json
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from agents import default_policy_path
from benchmarks.options import ROOT, ROUNDS, STEPS, Result, add_ranged, add_result_options
from common.options import Range

BASELINE = "95cf117"
"""The last commit before the hooks (srmt/inspect.py, srmt/interventions.py, srmt/neighbours.py)."""
AGENTS = Range(1, 4096, integer=True)
ENVS = Range(1, 1024, integer=True)

TIMING = r"""
import json, sys, time
import torch
from srmt.checkpoint import load_policy
torch.set_num_threads(1)
envs, agents, steps = map(int, sys.argv[2:5])
policy = load_policy(sys.argv[1]).model.eval()
torch.manual_seed(0)
obs = torch.rand(envs * agents, 3, policy.cfg.obs_size, policy.cfg.obs_size)
state = policy.initial_state(agents, envs * agents)
with torch.no_grad():
    for _ in range(3):
        logits, _, state = policy(obs, state, agents)
    features = policy.encoder(obs)
    start = time.perf_counter()
    for _ in range(steps):
        out, state = policy.core(features, state, agents)
    seconds = time.perf_counter() - start
    logits = policy.policy_head(out)
print(json.dumps({"seconds": seconds, "logits_sum": float(logits.double().sum()),
                  "srmt": load_policy.__code__.co_filename}))
"""
"""Run with the tree as working directory, so that its own `srmt` package is imported."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--baseline", default=BASELINE, metavar="REV",
                        help=f"the commit to compare with (default {BASELINE}, the last one without the hooks)")
    parser.add_argument("--checkpoint", default=str(default_policy_path(True, None)), metavar="FILE",
                        help="policy file acted with in both trees (default: the shipped lifelong policy)")
    add_ranged(parser, "--envs", ENVS, 8, "environments per step")
    add_ranged(parser, "--agents", AGENTS, 64, "agents per environment")
    add_ranged(parser, "--steps", STEPS, 200, "timed core steps per round")
    add_ranged(parser, "--rounds", ROUNDS, 5, "rounds, each tree once per round")
    add_result_options(parser)


def _time(tree: Path, args: argparse.Namespace) -> dict:
    done = subprocess.run([sys.executable, "-c", TIMING, str(Path(args.checkpoint).resolve()), str(args.envs),
                           str(args.agents), str(args.steps)], cwd=tree, capture_output=True, text=True,
                          env={"OMP_NUM_THREADS": "1", "PATH": "/usr/bin:/bin"}, timeout=3600)
    if done.returncode != 0:
        raise SystemExit(f"timing in {tree} failed: {done.stderr.strip()[-2000:]}")
    timed = json.loads(done.stdout.strip().splitlines()[-1])
    if not Path(timed["srmt"]).resolve().is_relative_to(tree.resolve()):
        raise SystemExit(f"the timing in {tree} imported srmt from {timed['srmt']}, not from that tree")
    return timed


def check_inputs(args: argparse.Namespace) -> None:
    """The policy file loads and the baseline names a commit of this repository (ValueError naming the
    option), before any worktree is made."""
    from srmt.checkpoint import load_policy

    load_policy(args.checkpoint)
    found = subprocess.run(["git", "rev-parse", "--verify", "--quiet", f"{args.baseline}^{{commit}}"], cwd=ROOT,
                           capture_output=True, text=True)
    if found.returncode != 0:
        raise ValueError(f"--baseline {args.baseline}: not a commit of this repository ({ROOT}); pass a commit "
                         f"hash, tag or branch, e.g. {BASELINE}")


def run(args: argparse.Namespace) -> int:
    check_inputs(args)
    result = Result.begin(args)
    with tempfile.TemporaryDirectory(prefix="srmt-bench-hooks-") as tmp:
        baseline = Path(tmp) / "baseline"
        made = subprocess.run(["git", "worktree", "add", "--detach", str(baseline), args.baseline], cwd=ROOT,
                              capture_output=True, text=True)
        if made.returncode != 0:
            raise SystemExit(f"--baseline {args.baseline}: cannot check it out ({made.stderr.strip()})")
        try:
            trees = {"this checkout": ROOT, f"baseline {args.baseline}": baseline}
            runs: dict[str, list[dict]] = {name: [] for name in trees}
            for r in range(args.rounds):
                for name in (list(trees) if r % 2 == 0 else list(trees)[::-1]):
                    runs[name].append(_time(trees[name], args))
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(baseline)], cwd=ROOT, capture_output=True)
    rows = args.envs * args.agents
    speed = {name: statistics.median(rows * args.steps / r["seconds"] for r in rs) for name, rs in runs.items()}
    ours, theirs = speed.values()
    for rs in runs.values():
        for r in rs:
            del r["srmt"]
    same = len({r["logits_sum"] for rs in runs.values() for r in rs}) == 1
    title = (f"Core steps with the hooks off vs {args.baseline} (before them): {args.envs} envs x {args.agents} "
             f"agents, {args.steps} steps, median of {args.rounds} interleaved rounds, 1 thread")
    summary = (f"this checkout {ours:,.0f} vs baseline {theirs:,.0f} agent-steps/s -> {ours / theirs:.3f}x; "
               f"logits {'identical' if same else 'DIFFERENT'} in every run")
    print(summary)
    result.save(title, summary, {"agent_steps_per_s": speed, "ratio": ours / theirs, "identical_logits": same,
                                 "runs": runs}, target="ratio about 1 (no slower)")
    return 0 if same else 1
