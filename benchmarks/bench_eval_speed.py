"""Evaluation speed: the Bottleneck suite with the batched SRMT agent vs a per-agent loop.

Batched: all 580 episodes (58 corridor lengths x 10 seeds) through
eval.runner (episodes of one length share a batched env, one forward pass per
step for all of them), in this process and with 2 worker processes.
Reference: one episode at a time, the model called once per agent
(SRMTAgent(batched=False), the reference code's way), on one seed of every
corridor length, so its episodes have the same length mix as the full suite;
episodes/s of the two are then comparable. The reference episodes must give
the same metrics as the batched run (printed as a check).

    srmt bench eval [--quick]
"""
from __future__ import annotations

import argparse
import os
import tempfile
import time

import torch

from agents import SRMTAgent
from agents.pretrained import default_policy_path, random_init_policy
from eval.runner import AgentSpec, Chunk, make_chunks, run_chunk, run_chunks
from eval.suites import get_suite
from envs.options import NON_NEGATIVE_INT


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--checkpoint", metavar="FILE",
                   help="policy file (default: the shipped Bottleneck policy, else a random-init bottleneck model)")
    p.add_argument("--reference-seeds", type=NON_NEGATIVE_INT.argtype("--reference-seeds"), nargs="+", default=[0], metavar="S",
                   help="seeds of the per-agent reference run (default 0: 58 episodes, one per length)")
    p.add_argument("--quick", action="store_true", help="only corridor lengths up to 50 (smoke run)")
    p.add_argument("--skip-workers", action="store_true", help="do not time the 2-worker run")


def _policy_file(checkpoint: str | None, tmp: str) -> tuple[str, str]:
    """(path, description): the given file, the shipped policy, or a random-init one saved in `tmp`."""
    if checkpoint:
        return checkpoint, checkpoint
    if default_policy_path().is_file():
        return str(default_policy_path()), str(default_policy_path())
    path = random_init_policy(os.path.join(tmp, "random_init.pt"))
    return str(path), "random-init bottleneck preset (no trained policy yet)"


def _strip(records: list[dict]) -> dict:
    out = {}
    for r in records:
        g = r["env_grid_search"]
        out[(g["map_name"], g["seed"])] = {k: v for k, v in r["metrics"].items() if k != "runtime"}
    return out


def run(args: argparse.Namespace) -> int:
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    torch.set_num_threads(1)
    suite = get_suite("bottleneck")
    maps = r"bottleneck-([3-9]|[1-4][0-9]|50)" if args.quick else None
    episodes = suite.episodes(maps=maps)
    tmp = tempfile.mkdtemp(prefix="srmt-bench-")
    path, source = _policy_file(args.checkpoint, tmp)
    batched = SRMTAgent.from_checkpoint(path, batched=True)
    reference = SRMTAgent.from_checkpoint(path, batched=False)
    print(f"policy: {source}; torch threads {torch.get_num_threads()}; {len(episodes)} episodes")

    warm = make_chunks(suite, suite.episodes(maps="bottleneck-3", seeds=[0]), 2, None)
    run_chunk(batched, warm[0], lambda r: None)  # burn-in: imports, first allocations
    run_chunk(reference, warm[0], lambda r: None)

    chunks = make_chunks(suite, episodes, batched.obs_radius, None)
    records: list[dict] = []
    t0 = time.perf_counter()
    run_chunks(batched, chunks, records.append, workers=1)
    t_batched = time.perf_counter() - t0
    steps = sum(r["metrics"]["ep_length"] for r in records)

    t_workers = None
    if not args.skip_workers:
        parallel: list[dict] = []
        t0 = time.perf_counter()
        run_chunks(AgentSpec("srmt", checkpoint=path), chunks, parallel.append, workers=2)
        t_workers = time.perf_counter() - t0

    sample = [ep for ep in episodes if ep.seed in set(args.reference_seeds)]
    ref_records: list[dict] = []
    t0 = time.perf_counter()
    for ep in sample:  # one episode at a time, model called per agent
        chunk = make_chunks(suite, [ep], reference.obs_radius, None)[0]
        run_chunk(reference, Chunk(chunk.config, chunk.episodes, 1), ref_records.append)
    t_ref = time.perf_counter() - t0
    ref_steps = sum(r["metrics"]["ep_length"] for r in ref_records)

    ours = _strip(records)
    same = all(ours[k] == v for k, v in _strip(ref_records).items())
    eps_b, eps_r = len(records) / t_batched, len(ref_records) / t_ref
    print(f"{'run':42s} {'episodes':>8s} {'env steps':>10s} {'seconds':>8s} {'episodes/s':>11s} {'steps/s':>9s}")
    print(f"{'batched, 1 process':42s} {len(records):8d} {steps:10.0f} {t_batched:8.1f} {eps_b:11.2f} "
          f"{steps / t_batched:9.0f}")
    if t_workers is not None:
        print(f"{'batched, 2 worker processes':42s} {len(records):8d} {steps:10.0f} {t_workers:8.1f} "
              f"{len(records) / t_workers:11.2f} {steps / t_workers:9.0f}")
    print(f"{'per-agent loop, one episode at a time':42s} {len(ref_records):8d} {ref_steps:10.0f} {t_ref:8.1f} "
          f"{eps_r:11.2f} {ref_steps / t_ref:9.0f}")
    print(f"speed-up (episodes/s), batched 1 process vs per-agent loop: {eps_b / eps_r:.1f}x")
    if t_workers is not None:
        print(f"speed-up (episodes/s), batched 2 workers vs per-agent loop: {len(records) / t_workers / eps_r:.1f}x")
    print(f"per-agent loop gives the same metrics as the batched run on its {len(ref_records)} episodes: "
          f"{'yes' if same else 'NO'}")
    return 0 if same else 1
