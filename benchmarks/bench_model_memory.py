"""Time and memory of one acting step (no_grad, grouped path) of the lifelong SRMT policy
(memory='stored': the per-row state holds the pool, as in the reference).

    OMP_NUM_THREADS=2 srmt bench memory [--envs 256 --agents 64]

(`srmt` must be importable: `pip install -e .`, or prefix `PYTHONPATH=.`). About 45 s
and 6 GB of RAM at the default size on 2 cores.

Prints the wall time of the encoder and of the core, the peak resident memory
added by the core step (sampled from /proc/self/statm every few ms: torch's
allocations are invisible to tracemalloc; Linux only), and what the pool
keys/values cost grouped (once per environment) against per row. The per-row
path is also measured, on a few environments only (at full size it would need
several GB more).
"""

from __future__ import annotations

import argparse
import os
import threading
import time

import psutil
import torch

from benchmarks.options import ENVS, Result, add_ranged, add_result_options
from common.options import Range
from srmt.config import ModelConfig
from srmt.model import SRMTPolicy
from srmt.state import state_size, unpack_state

PAGE = os.sysconf("SC_PAGE_SIZE")
GB = 1e9
AGENTS = Range(1, 1024, integer=True)
THREADS = Range(1, 256, integer=True)


def rss_bytes() -> int:
    """Current resident set size of this process."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * PAGE


class PeakRSS:
    """Context manager: the peak RSS above the RSS at entry, polled by a thread."""

    def __init__(self, interval_s: float = 0.002) -> None:
        self.interval_s = interval_s
        self.start = self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)

    def _poll(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, rss_bytes())
            time.sleep(self.interval_s)

    def __enter__(self) -> PeakRSS:
        self.start = self.peak = rss_bytes()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, rss_bytes())

    @property
    def added(self) -> int:
        return self.peak - self.start


def mid_episode_state(cfg: ModelConfig, envs: int, agents: int) -> torch.Tensor:
    """Random state with memory and a full history (steps_seen = K + 1): every part is read."""
    state = torch.randn(envs * agents, state_size(cfg, agents))  # (B, S)
    view = unpack_state(state, cfg, agents)
    view.pool.copy_(view.pool[::agents].repeat_interleave(agents, dim=0))  # one pool per env
    view.steps_seen.fill_(cfg.history + 1)
    return state


@torch.no_grad()
def measure_core(policy: SRMTPolicy, features: torch.Tensor, state: torch.Tensor, agents: int,
                 grouped: bool) -> tuple[float, int]:
    """Seconds and peak added RSS (bytes) of one core step."""
    with PeakRSS() as peak:
        start = time.perf_counter()
        out, new_state = policy.core(features, state, agents, grouped)
        seconds = time.perf_counter() - start
    del out, new_state
    return seconds, peak.added


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--preset", default="lifelong", choices=["bottleneck", "lifelong"])
    add_ranged(parser, "--envs", ENVS, 256, "environments of the acting step")
    add_ranged(parser, "--agents", AGENTS, 64, "agents per environment")
    add_ranged(parser, "--compare-envs", ENVS, 16, "environments for the grouped vs per-row comparison")
    add_ranged(parser, "--threads", THREADS, 2, "torch intra-op threads")
    add_result_options(parser)


def run(args: argparse.Namespace) -> int:
    result = Result.begin(args)
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    cfg = ModelConfig.preset(args.preset, memory="stored")  # the reference layout, whose stored pool it prices
    policy = SRMTPolicy(cfg).eval()
    envs, agents, hidden = args.envs, args.agents, cfg.hidden
    rows = envs * agents
    size = state_size(cfg, agents)
    print(f"{args.preset} srmt, {envs} envs x {agents} agents = {rows} rows, H={hidden}, "
          f"{torch.get_num_threads()} threads")
    print(f"state: {size} floats/row = {rows * size * 4 / GB:.2f} GB in, the same out")
    available = psutil.virtual_memory().available
    if 2 * rows * size * 4 > available:
        raise ValueError(f"--envs {envs} x --agents {agents}: the state in and out alone need "
                         f"{2 * rows * size * 4 / GB:.1f} GB, more than the {available / GB:.1f} GB available "
                         "here; use fewer --envs")

    # Burn-in on one environment (first-call allocations, kernel selection).
    small = mid_episode_state(cfg, 1, agents)
    with torch.no_grad():
        policy(torch.rand(agents, 3, cfg.obs_size, cfg.obs_size), small, agents)

    obs = torch.rand(rows, 3, cfg.obs_size, cfg.obs_size)  # (B, 3, w, w)
    with torch.no_grad(), PeakRSS() as encoder_peak:
        start = time.perf_counter()
        features = policy.encoder(obs)  # (B, H)
        encoder_s = time.perf_counter() - start
    state = mid_episode_state(cfg, envs, agents)
    core_s, core_peak = measure_core(policy, features, state, agents, grouped=True)
    print(f"encoder {encoder_s:.2f} s (peak RSS added {encoder_peak.added / GB:.2f} GB), "
          f"core (grouped) {core_s:.2f} s, total {encoder_s + core_s:.2f} s "
          f"= {rows / (encoder_s + core_s):,.0f} agent-steps/s")
    print(f"core peak RSS added: {core_peak / GB:.2f} GB "
          f"(of which the new state: {rows * size * 4 / GB:.2f} GB)")

    kv_floats_per_env = agents * 2 * hidden * cfg.blocks  # pool keys + values, all blocks
    kv_grouped, kv_per_row = envs * kv_floats_per_env * 4 / GB, rows * kv_floats_per_env * 4 / GB
    print(f"pool K/V grouped : E*A*2H*blocks*4 B = {kv_grouped:.3f} GB")
    print(f"pool K/V per row : B*A*2H*blocks*4 B = {kv_per_row:.3f} GB ({agents}x)")
    del state, features

    few = args.compare_envs
    features = torch.randn(few * agents, hidden)
    state = mid_episode_state(cfg, few, agents)
    print(f"measured on {few} envs x {agents} agents:")
    compared = {}
    for grouped in (True, False):
        seconds, peak = measure_core(policy, features, state, agents, grouped)
        compared["grouped" if grouped else "per_row"] = dict(seconds=seconds, peak_rss_added_gb=peak / GB)
        print(f"  core grouped={grouped!s:5s}: {seconds:.2f} s, peak RSS added {peak / GB:.3f} GB")
    result.save(f"Model memory, `{args.preset}` preset (memory `stored`), {envs} envs x {agents} agents, one "
                "grouped acting step",
                f"pool keys/values {kv_grouped:.3f} GB (per-row copies would be {kv_per_row:.2f} GB); encoder "
                f"{encoder_s:.2f} s + core {core_s:.2f} s = {rows / (encoder_s + core_s):,.0f} agent-steps/s; "
                f"core peak RSS added {core_peak / GB:.2f} GB",
                dict(rows=rows, state_floats_per_row=size, encoder_s=encoder_s, core_s=core_s,
                     encoder_peak_rss_added_gb=encoder_peak.added / GB, core_peak_rss_added_gb=core_peak / GB,
                     pool_kv_grouped_gb=kv_grouped, pool_kv_per_row_gb=kv_per_row,
                     compared_on_envs=few, compared=compared))
    return 0
