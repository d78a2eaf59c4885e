"""Learning curve of a PIBT imitation run on the held-out `validation` suite.

For every snapshot an `srmt imitate` run wrote (OUT.parent/snapshots-imitation/policy-SAMPLES.pt)
and its final policy file: the held-out expert accuracy (share of agent-steps where the policy's
most likely action is PIBT's, PIBT acting on the validation maps, train.imitation.expert_accuracy)
and the validation throughput without the PIBT collision shield (the policy file's recommended
decoding) and with it (ranking by logit, the shield's default), beside PIBT's own throughput on the
same episodes.

    srmt bench imitation runs/bc/imitation.pt --out curve.json
"""
from __future__ import annotations

import argparse
import re
import tempfile
from pathlib import Path

from benchmarks.bench_lifelong_learning import SUITE, score
from benchmarks.options import WORKERS, Result, add_ranged, add_result_options
from envs.config import EnvConfig
from agents.spec import AgentSpec
from eval.evaluate import check_agent_fits
from eval.suites import get_suite
from maps.lifelong import VALIDATION_PREFIX
from srmt.checkpoint import load_policy
from train.imitation import SNAPSHOTS, expert_accuracy

SHIELDS = (None, "pibt")
"""The curve's columns: the policy without a shield and with the PIBT shield."""


def held_out_env(num_agents: int) -> EnvConfig:
    """The validation suite's maps and dynamics, as a training-style environment config."""
    return EnvConfig(map_name=None, map_pattern=f"{VALIDATION_PREFIX}-.*", num_agents=num_agents, obs_radius=5,
                     collision_system="soft", on_target="restart", max_episode_steps=128, reward="directional")


def snapshots(policy: Path) -> list[tuple[int, Path]]:
    """(samples, path) of the run's snapshots in order, the final policy file last."""
    found = []
    for path in (policy.parent / SNAPSHOTS).glob("policy-*.pt"):
        match = re.fullmatch(r"policy-(\d+)\.pt", path.name)
        if match:
            found.append((int(match.group(1)), path))
    final = load_policy(policy).meta.get("env_steps", 0)
    return sorted(found) + [(int(final), policy)]


def throughput(spec: AgentSpec, out: Path, workers: int) -> float:
    """Mean throughput on the validation suite (torch backend: the same records as pogema's, faster)."""
    return score(spec, out, quick=False, workers=workers, backend="torch")["throughput"]


def column(shield: str | None) -> str:
    """A column's key in the curve: throughput_none, throughput_pibt."""
    return f"throughput_{shield or 'none'}"


def check_points(points: list[tuple[int, Path]]) -> None:
    """Every snapshot and the final policy fit the validation suite (a lifelong policy of radius 5) and take
    the shield: ValueError naming the file, before PIBT or any evaluation runs."""
    suite = get_suite(SUITE)
    for _, path in points:
        for shield in SHIELDS:
            try:
                check_agent_fits(suite, AgentSpec(algo="srmt", checkpoint=str(path), shield=shield).build())
            except ValueError as err:
                raise ValueError(f"{path}: {err}") from err


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("policy", help="the final policy file of an `srmt imitate` run (--out)")
    parser.add_argument("--agents", type=int, default=32, choices=(16, 32, 64),
                        help="agents per map for the accuracy rollouts (default 32)")
    add_ranged(parser, "--workers", WORKERS, 2, "evaluation worker processes")
    add_result_options(parser)


def run(args: argparse.Namespace) -> int:
    policy = Path(args.policy)
    if not policy.is_file():
        raise ValueError(f"POLICY {policy} is not a file; pass the --out of an `srmt imitate` run")
    points = snapshots(policy)  # CheckpointError for a file that is not a policy
    check_points(points)
    result = Result.begin(args)
    work = Path(tempfile.mkdtemp(prefix="srmt-imitation-curve-"))
    pibt = throughput(AgentSpec(algo="pibt"), work / "pibt", args.workers)
    print(f"PIBT on {SUITE}: {pibt:.3f}", flush=True)
    print("| samples | held-out accuracy | throughput | shielded | x PIBT | shielded x PIBT |\n|---|---|---|---|---|---|")
    curve = []
    for samples, path in points:
        row = dict(samples=samples, file=str(path),
                   accuracy=expert_accuracy(load_policy(path).model, held_out_env(args.agents)))
        for shield in SHIELDS:
            spec = AgentSpec(algo="srmt", checkpoint=str(path), shield=shield)
            row[column(shield)] = throughput(spec, work / f"{samples}-{shield or 'none'}", args.workers)
        curve.append(row)
        print(f"| {samples:,} | {row['accuracy']:.3f} | {row['throughput_none']:.3f} | {row['throughput_pibt']:.3f} "
              f"| {row['throughput_none'] / pibt:.2f} | {row['throughput_pibt'] / pibt:.2f} |", flush=True)
    last = curve[-1]
    result.save(f"PIBT imitation learning curve of {policy.name} on the `{SUITE}` suite ({len(curve)} points)",
                f"final: held-out accuracy {last['accuracy']:.3f}, throughput {last['throughput_none']:.3f}, "
                f"under the PIBT shield {last['throughput_pibt']:.3f} ({last['throughput_pibt'] / pibt:.2f}x PIBT's "
                f"{pibt:.3f})", {"policy": str(policy), "pibt": pibt, "curve": curve})
    return 0
