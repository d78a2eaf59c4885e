"""Learning curve of an imitation run on the held-out `validation` suite.

For every snapshot an `srmt imitate` run wrote (OUT.parent/snapshots-imitation/policy-SAMPLES.pt)
and its final policy file: the held-out expert accuracy (share of agent-steps where the policy's
most likely action is the expert's, the expert acting on the validation maps,
train.imitation.expert_accuracy) and the validation throughput without a collision shield (the
policy file's recommended decoding) and with `--shield` (default pibt; actions ranked by logit, as
`srmt eval --shield` ranks them), beside the expert's own throughput on the same episodes.

What the run was comes from its policy files, not from options: the expert it copied (PIBT or
guided PIBT), the shield in its rollouts, its command and its wall-clock time at each snapshot
(the imitation's clock at its last progress report before the snapshot: up to 30 s early). The
result file records them, with `--stage` (the run's step in a training recipe); an imitation starts
from new weights, so its `init_policy` is none.

    srmt bench imitation runs/bc/imitation.pt --stage imitation --out docs/results/recipe/imitation.json
"""
from __future__ import annotations

import argparse
import re
import tempfile
from pathlib import Path

from agents.options import add_shield_option
from agents.spec import AgentSpec
from benchmarks.bench_lifelong_learning import SUITE, add_stage, score
from benchmarks.options import WORKERS, Result, add_ranged, add_result_options
from envs.config import EnvConfig
from eval.evaluate import check_agent_fits
from eval.suites import get_suite
from maps.lifelong import VALIDATION_PREFIX
from srmt.checkpoint import LoadedPolicy, load_policy
from train.imitation import SNAPSHOTS, expert_accuracy


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


def imitation_of(path: Path, loaded: LoadedPolicy) -> dict:
    """The `imitation` entry of a policy file's meta (train/imitation.py: the run's last report and settings);
    ValueError naming the file when it has none (`srmt imitate` did not write it)."""
    imitation = loaded.meta.get("imitation")
    if not isinstance(imitation, dict) or not isinstance(imitation.get("settings"), dict):
        raise ValueError(f"{path}: its meta has no imitation settings, so `srmt imitate` did not write it; pass "
                         "the --out of an `srmt imitate` run")
    return imitation


def expert_of(imitation: dict) -> str:
    """The name (planners.registry.EXPERTS) of the expert the run copied; files written before `--expert`
    existed name none, and their expert was PIBT, the only one then."""
    return imitation["settings"].get("expert", "pibt")


def columns(shield: str | None) -> tuple[str | None, ...]:
    """The curve's throughput columns: the policy without a shield, then with `shield` (if any)."""
    return (None,) if shield is None else (None, shield)


def column(shield: str | None) -> str:
    """A column's key in the curve: throughput_none, throughput_pibt, throughput_guided-pibt."""
    return f"throughput_{shield or 'none'}"


def check_points(points: list[tuple[int, Path]], shield: str | None) -> str:
    """Every snapshot and the final policy were written by one `srmt imitate` run, fit the validation suite
    (a lifelong policy of radius 5) and take the shield; the expert they copied. ValueError naming the file,
    before the expert or any evaluation runs."""
    suite = get_suite(SUITE)
    experts = {}
    for _, path in points:
        for each in columns(shield):
            try:
                check_agent_fits(suite, AgentSpec(algo="srmt", checkpoint=str(path), shield=each).build())
            except ValueError as err:
                raise ValueError(f"{path}: {err}") from err
        experts[path] = expert_of(imitation_of(path, load_policy(path)))
    final = experts[points[-1][1]]
    other = next((path for path, expert in experts.items() if expert != final), None)
    if other is not None:
        raise ValueError(f"{other} copied the expert {experts[other]!r}, the final policy {points[-1][1]} "
                         f"{final!r}: a snapshot of another run is in {other.parent}; remove it")
    return final


def throughput(spec: AgentSpec, out: Path, workers: int) -> float:
    """Mean throughput on the validation suite (torch backend: the same records as pogema's, faster)."""
    return score(spec, out, quick=False, workers=workers, backend="torch")["throughput"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("policy", help="the final policy file of an `srmt imitate` run (--out)")
    parser.add_argument("--agents", type=int, default=32, choices=(16, 32, 64),
                        help="agents per map for the accuracy rollouts (default 32)")
    add_shield_option(parser, "the collision shield of the shielded column, actions ranked by logit (default pibt; "
                              "none: the unshielded column alone)", default="pibt")
    add_stage(parser)
    add_ranged(parser, "--workers", WORKERS, 2, "evaluation worker processes")
    add_result_options(parser)


def run(args: argparse.Namespace) -> int:
    policy = Path(args.policy)
    if not policy.is_file():
        raise ValueError(f"POLICY {policy} is not a file; pass the --out of an `srmt imitate` run")
    points = snapshots(policy)  # CheckpointError for a file that is not a policy
    expert = check_points(points, args.shield)
    result = Result.begin(args)
    shielded = columns(args.shield)
    work = Path(tempfile.mkdtemp(prefix="srmt-imitation-curve-"))
    planner = throughput(AgentSpec(algo=expert), work / expert, args.workers)
    print(f"{expert} on {SUITE}: {planner:.3f}", flush=True)
    head = [f"{each} shield" if each else "throughput" for each in shielded]
    print("| samples | wall min | held-out accuracy | " + " | ".join(head) + " | "
          + " | ".join(f"{h} x {expert}" for h in head) + " |\n" + "|---" * (3 + 2 * len(head)) + "|")
    curve = []
    for samples, path in points:
        loaded = load_policy(path)
        row = dict(samples=samples, file=str(path),
                   wall_minutes=round(imitation_of(path, loaded)["seconds"] / 60, 2),
                   accuracy=expert_accuracy(loaded.model, held_out_env(args.agents), expert=expert))
        for each in shielded:
            spec = AgentSpec(algo="srmt", checkpoint=str(path), shield=each)
            row[column(each)] = throughput(spec, work / f"{samples}-{each or 'none'}", args.workers)
        curve.append(row)
        values = [row[column(each)] for each in shielded]
        print(f"| {samples:,} | {row['wall_minutes']:.1f} | {row['accuracy']:.3f} | "
              + " | ".join(f"{v:.3f}" for v in values) + " | " + " | ".join(f"{v / planner:.2f}" for v in values)
              + " |", flush=True)
    final = load_policy(policy).meta
    last = curve[-1]
    stage = f" ({args.stage})" if args.stage else ""
    in_rollouts = f", {final['shield']} shield in its rollouts" if final.get("shield") else ""
    under = (f", under the {args.shield} shield {last[column(args.shield)]:.3f} "
             f"({last[column(args.shield)] / planner:.2f}x {expert}'s {planner:.3f})" if args.shield else
             f" ({last[column(None)] / planner:.2f}x {expert}'s {planner:.3f})")
    result.save(f"Imitation learning curve{stage} of {policy.name} ({expert}{in_rollouts}) on the `{SUITE}` suite "
                f"({len(curve)} points)",
                f"final: held-out accuracy {last['accuracy']:.3f}, throughput {last[column(None)]:.3f}{under}",
                {"stage": args.stage, "init_policy": None, "policy": str(policy), "expert": expert,
                 "rollout_shield": final.get("shield"), "training": final.get("command"), "shield": args.shield,
                 "baselines": {expert: {"throughput": planner}}, "curve": curve})
    return 0
