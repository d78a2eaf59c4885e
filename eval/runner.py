"""Run evaluation episodes: batched inside a worker, parallel across worker processes.

A *chunk* is a list of episodes with the same agent count and episode length.
A worker runs a chunk in one batched env (`--backend`, auto_reset=False) with E env
slots and a queue of tasks: every step the agent acts for all running
episodes in one call; when an episode ends its record is emitted and its slot
restarts with the next task (`reset_env`) or stays frozen when the queue is
empty. Chunks are spread over `workers` processes (spawned; one torch thread
each); records come back to the parent as they finish, in whatever order.

Results do not depend on batching or scheduling: the task of an episode is a
function of (map, agent count, seed), and agents draw randomness per episode
(agents.base).
"""
from __future__ import annotations

import math
import multiprocessing as mp
import queue
import re
import time
import traceback
from collections import deque
from dataclasses import dataclass
from typing import Callable, Sequence

from agents import Agent
from agents.spec import AgentSpec
from envs.config import EnvConfig, resolve_config, is_lifelong
from envs.metrics import AgentsDensity, agents_density
from envs.backends import BACKENDS, make_backend
from envs.batched import BatchedEnv
from common.device import limit_threads
from envs.task import Task, task_for_seed
from eval.results import make_record
from eval.suites import Episode, EvalError, Suite, group_by_config

MAX_ROWS = 2048
"""Agent rows per batched env (E*A): bounds memory and forward-pass size."""
MAX_ENVS = 64
"""Env slots per batched env."""
WAVES = 4
"""A chunk holds up to WAVES x slots episodes (slots refill from its queue)."""


@dataclass(frozen=True)
class Chunk:
    """Episodes run together in one batched env."""

    config: EnvConfig
    episodes: tuple[Episode, ...]
    num_envs: int
    backend: str = "pogema"
    """envs/backends.py BACKENDS key: pogema (the reference) or torch (same dynamics, faster)"""

    @property
    def cost(self) -> int:
        return sum(ep.num_agents * ep.max_episode_steps for ep in self.episodes)


def env_config(suite: Suite, episodes: Sequence[Episode], obs_radius: int, maps_dir: str | None,
               guidance: str = EnvConfig.guidance) -> EnvConfig:
    """The EnvConfig of a group of episodes (same agent count and length) of `suite`, observed with `guidance`
    (the policy's: `SRMTAgent.guidance`)."""
    names = sorted({ep.map_name for ep in episodes})
    return EnvConfig(
        map_name=None, map_pattern="(?:" + "|".join(re.escape(n) for n in names) + ")", maps_dir=maps_dir,
        num_agents=episodes[0].num_agents, seed=0, obs_radius=obs_radius, guidance=guidance,
        collision_system=suite.collision_system, on_target=suite.on_target,
        max_episode_steps=episodes[0].max_episode_steps,
        reward=eval_reward(suite.on_target),
    )


def eval_reward(on_target: str) -> str:
    """The reward scheme of an evaluation env: episodes are scored by their metrics, so any scheme that
    fits `on_target` does (envs.config): lifelong for restart, sparse otherwise."""
    return "lifelong" if is_lifelong(on_target) else "sparse"


def start_task(env: BatchedEnv, e: int, map_index: int, seed: int) -> Task:
    """Start env `e` on the task of (map, seed) and return it.

    Raises:
        EvalError: pogema cannot place the agents (too many for the map's free region).
    """
    task = task_for_seed(env.resolved, map_index, seed)
    try:
        env.reset_env(e, task)
    except OverflowError as err:  # pogema's "Can't create task"
        raise EvalError(f"pogema cannot place {env.num_agents} agents on map {env.resolved.maps[map_index].name!r} "
                        f"(seed {seed}): {err}; use fewer agents") from err
    return task


def make_chunks(suite: Suite, episodes: Sequence[Episode], obs_radius: int, maps_dir: str | None,
                max_rows: int = MAX_ROWS, max_envs: int = MAX_ENVS, backend: str = "pogema",
                waves: int = WAVES, guidance: str = EnvConfig.guidance) -> list[Chunk]:
    """Split episodes into chunks of up to `waves` x slots episodes, validating every env config
    (EnvConfigError on bad input) and the backend (EvalError).

    Largest chunks first, so that parallel workers finish together.
    """
    if backend not in BACKENDS:
        raise EvalError(f"--backend {backend!r} is not one of {sorted(BACKENDS)}")
    chunks = []
    for (agents, _), group in group_by_config(episodes).items():
        slots = max(1, min(max_envs, max_rows // agents))
        per_chunk = slots * waves
        pieces = math.ceil(len(group) / per_chunk)
        size = math.ceil(len(group) / pieces)
        for i in range(0, len(group), size):
            part = tuple(group[i:i + size])
            config = env_config(suite, part, obs_radius, maps_dir, guidance)
            resolve_config(config)  # fail here, in the parent, not in a worker
            chunks.append(Chunk(config, part, min(slots, len(part)), backend))
    return sorted(chunks, key=lambda c: -c.cost)


def run_chunk(agent: Agent, chunk: Chunk, emit: Callable[[dict], None]) -> None:
    """Play every episode of `chunk` with `agent`; call `emit(record)` as each one ends.

    Raises:
        EvalError: pogema cannot place the agents of a task (too many for the map's free region).
    """
    env = make_backend(chunk.backend, chunk.config, chunk.num_envs, auto_reset=False)
    index = {spec.name: i for i, spec in enumerate(env.resolved.maps)}
    todo = deque(chunk.episodes)
    A = env.num_agents
    slot: list[Episode | None] = [None] * chunk.num_envs
    started = [0.0] * chunk.num_envs

    def start(e: int) -> int:
        ep = todo.popleft()
        start_task(env, e, index[ep.map_name], ep.seed)
        slot[e], started[e] = ep, time.perf_counter()
        return ep.seed

    seeds = [start(e) for e in range(chunk.num_envs)]
    agent.reset(chunk.num_envs, A, seeds)
    obs = env.observe()
    density = agents_density(chunk.config.on_target, chunk.num_envs, A)
    if density is not None:
        density.add(obs, list(range(chunk.num_envs)))
    while any(s is not None for s in slot):
        actions = agent.act(obs, env)
        obs, _, _, _, infos = env.step(actions)
        if density is not None:
            density.add(obs, [e for e, ep in enumerate(slot) if ep is not None])
        ended = infos["ended"].nonzero().flatten().tolist()
        if not ended:
            continue
        restarted, new_seeds = [], []
        for e in ended:
            ep = slot[e]
            metrics = {name: float(values[e * A]) for name, values in infos["metrics"].items()}
            if density is not None:
                metrics[AgentsDensity.NAME] = density.pop(e)
            emit(make_record(agent.name, ep, metrics, time.perf_counter() - started[e]))
            slot[e] = None
            if todo:
                new_seeds.append(start(e))
                restarted.append(e)
        if restarted:
            agent.reset_envs(restarted, new_seeds)
            obs = env.observe()
            if density is not None:
                density.add(obs, restarted)
    env.close()


# ------------------------------------------------------------------ workers
def _worker_main(spec: AgentSpec, tasks, results) -> None:
    """Worker process: build the agent, run chunks from `tasks`, send ('record', r) / ('error', ...)."""
    limit_threads(1)
    try:
        agent = spec.build()
        while True:
            chunk = tasks.get()
            if chunk is None:
                break
            run_chunk(agent, chunk, lambda record: results.put(("record", record)))
        results.put(("done", None))
    except KeyboardInterrupt:
        pass
    except BaseException as err:  # report everything; the parent decides
        results.put(("error", (isinstance(err, ValueError), f"{type(err).__name__}: {err}",
                               traceback.format_exc())))


def run_chunks(agent: Agent | AgentSpec, chunks: Sequence[Chunk], emit: Callable[[dict], None],
               workers: int = 1) -> None:
    """Run chunks inline (workers <= 1) or in `workers` spawned processes; emit records in the caller.

    Raises:
        EvalError: a worker failed on bad input (its message).
        RuntimeError: a worker crashed (its traceback).
    """
    if workers <= 1 or len(chunks) <= 1:
        built = agent.build() if isinstance(agent, AgentSpec) else agent
        for chunk in chunks:
            run_chunk(built, chunk, emit)
        return
    if not isinstance(agent, AgentSpec):
        raise TypeError("parallel evaluation needs an AgentSpec (a recipe each worker builds its agent from)")
    ctx = mp.get_context("spawn")
    tasks, results = ctx.Queue(), ctx.Queue()
    workers = min(workers, len(chunks))
    for chunk in chunks:
        tasks.put(chunk)
    for _ in range(workers):
        tasks.put(None)
    procs = [ctx.Process(target=_worker_main, args=(agent, tasks, results), daemon=True) for _ in range(workers)]
    for p in procs:
        p.start()
    done = 0
    try:
        while done < workers:
            try:
                kind, payload = results.get(timeout=1.0)
            except queue.Empty:
                dead = [p for p in procs if not p.is_alive() and p.exitcode not in (0, None)]
                if dead:
                    raise RuntimeError(f"evaluation worker died (exit code {dead[0].exitcode}); "
                                       "finished episodes are saved, rerun to resume")
                continue
            if kind == "record":
                emit(payload)
            elif kind == "done":
                done += 1
            else:
                bad_input, message, trace = payload
                if bad_input:
                    raise EvalError(message)
                raise RuntimeError(f"evaluation worker failed: {message}\n{trace}")
    finally:
        for p in procs:
            if p.is_alive():
                p.terminate()
        for p in procs:
            p.join(timeout=5)
