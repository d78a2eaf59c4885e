"""Imitation warm-start: behaviour cloning of the PIBT planner before APPO (`srmt imitate`).

The lifelong presets' environments run in the torch backend; at every step the
expert (planners.pibt.PIBTPlanner: centralised, full observability) names an
action for every agent, and the policy (decentralised, its own observation
window and the shared memory) learns to predict it:

- rollout (no gradient): `rollout` steps of E environments, the policy acting
  as it does in evaluation (grouped forward, recurrent state carried, zeroed
  at episode start); each environment executes the expert's actions with
  probability `expert_share` and the policy's own actions otherwise
  (DAgger-style mixing, so the data holds the states the policy itself
  reaches), sampled, or ranked and passed through the PIBT collision shield
  (`shield=True`); `expert_share` falls linearly from 1 to
  `final_expert_share` over the sample budget;
- learning: minibatches of whole environments over the whole rollout, replayed
  by `SRMTPolicy.unroll` (srmt/rollout.py, the learner path sample-factory's
  learner uses too): with memory `learned` the gradient runs through the
  memories the agents write and read over the rollout; loss = cross-entropy
  against the expert's actions plus a value loss towards the discounted
  returns of the training reward, so that APPO starts with a critic that fits
  the policy; with `intent_loss` W > 0, plus W x the cross-entropy of an intent
  head (srmt/intent.py) that predicts each agent's next `intent_moves` expert
  actions from the memory it writes to the pool at that step (the head is a
  training aid: it is not saved, the policy file is an ordinary one).

Both cores: the next rollout is collected (expert planning and env steps, by an
acting copy of the policy with the weights of the last update) in a thread
while the current one is learned from; each side has its own random streams,
so a run is a function of its seed and sample budget (`seconds` only caps it).

The result is an ordinary policy file; `srmt train --init_policy FILE` starts
APPO from it (train/run.py). Ctrl-C / SIGTERM save the policy before stopping.
"""
from __future__ import annotations

import copy
import math
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F

from envs.config import EnvConfig
from common.options import Range
from planners.pibt import PIBTPlanner
from planners.registry import EXPERTS, expert_label, make_expert
from envs.torch_backend import TorchBatchedEnv
from srmt.checkpoint import save_policy
from srmt.config import ModelConfig
from srmt.decoding import action_preferences
from srmt.intent import IntentHead, intent_loss, next_moves
from srmt.model import SRMTPolicy
from srmt.state import unpack_state

SNAPSHOTS = "snapshots-imitation"
"""Folder beside the policy file that holds the run's snapshots (policy-SAMPLES.pt)."""
SAMPLES = Range(1, 1e10, integer=True)
"""Allowed sample budgets: up to 1e10 (about 700 hours at this machine's speed)."""
SECONDS = Range(0, 7 * 24 * 3600, lo_open=True)
"""Allowed wall-clock caps: up to one week."""
INTENT_LOSS = Range(0)
"""Allowed weights of the intent loss: finite, >= 0 (0: off)."""
INTENT_MOVES = Range(1, integer=True)
"""Allowed numbers of moves the intent head predicts (it also needs `rollout` >= them)."""


@dataclass(frozen=True)
class ImitationConfig:
    """Settings of one behaviour-cloning run."""

    samples: int = 6_000_000
    """budget: agent-steps of expert labels learned from (the run is a function of seed and budget)"""
    seconds: float | None = None
    """optional wall-clock cap (a run it stops is no longer reproducible from its seed); the expert share
    then falls with the time spent when that is ahead of the samples spent"""
    envs: int = 16
    """E: environments stepped together"""
    rollout: int = 8
    """steps per rollout (E x A x rollout samples)"""
    epochs: int = 1
    """passes over each rollout (expert labels are cheap: fresh rollouts beat a second pass, docs/training.md)"""
    minibatch_envs: int = 4
    """environments per gradient step (minibatch_envs x A x rollout samples, whole environments)"""
    learning_rate: float = 1e-3
    gamma: float = 0.9756
    """discount of the value targets (the preset's APPO gamma)"""
    value_coef: float = 0.5
    final_expert_share: float = 0.5
    """probability that an env executes the expert's actions, reached at the end of the budget"""
    shield: bool = False
    """the policy's own actions go through the PIBT collision shield (planners/pibt.py) in the rollouts"""
    seed: int = 0
    expert: str = "pibt"
    """the planner whose actions are learned: a name of planners.registry.EXPERTS"""
    intent_loss: float = 0.0
    """W: weight of the intent loss (0: off): an auxiliary head predicts each agent's next `intent_moves`
    expert actions from the memory it writes at that step (srmt/intent.py; needs variant srmt or rmt)"""
    intent_moves: int = 3
    """K: moves the intent head predicts (the expert's actions at t .. t+K-1 of the same episode and rollout)"""

    def __post_init__(self) -> None:
        problems = [SAMPLES.problem("samples", self.samples), INTENT_LOSS.problem("intent_loss", self.intent_loss),
                    INTENT_MOVES.problem("intent_moves", self.intent_moves)]
        intent_on = INTENT_LOSS.contains(self.intent_loss) and self.intent_loss > 0
        if intent_on and INTENT_MOVES.contains(self.intent_moves) and isinstance(self.rollout, int) \
                and 0 < self.rollout < self.intent_moves:
            problems.append(f"intent_moves={self.intent_moves} must be <= rollout={self.rollout}: moves past the "
                            "rollout's end are never seen by the learner (lower intent_moves or raise rollout)")
        if self.seconds is not None:
            problems.append(SECONDS.problem("seconds", self.seconds))
        problems += [f"{name}={getattr(self, name)!r} must be > 0" for name in ("envs", "rollout", "epochs",
                                                                                "minibatch_envs", "learning_rate")
                     if not (isinstance(getattr(self, name), (int, float)) and getattr(self, name) > 0
                             and math.isfinite(getattr(self, name)))]
        if not 0 < self.gamma <= 1:
            problems.append(f"gamma={self.gamma!r} must be in (0, 1]")
        if not 0 <= self.final_expert_share <= 1:
            problems.append(f"final_expert_share={self.final_expert_share!r} must be in [0, 1]")
        if self.expert not in EXPERTS:
            problems.append(f"expert={self.expert!r} is not one of the experts: {', '.join(EXPERTS)}")
        problems = [p for p in problems if p]
        if problems:
            raise ValueError("invalid imitation settings: " + "; ".join(problems))


def check_intent_loss(model_cfg: ModelConfig, settings: ImitationConfig) -> None:
    """Refuse an intent loss on a model that writes no memory (`srmt imitate` calls this before any work)."""
    if settings.intent_loss > 0 and not model_cfg.uses_memory:
        raise ValueError(f"--intent-loss {settings.intent_loss:g} predicts moves from the memory an agent writes, "
                         f"and variant={model_cfg.variant!r} writes none (the intent head reads the memory token of "
                         "variants 'srmt' and 'rmt'); use one of them or --intent-loss 0")


def discounted_returns(rewards: torch.Tensor, dones: torch.Tensor, last_value: torch.Tensor,
                       gamma: float) -> torch.Tensor:
    """(T, N) returns R_t = r_t + gamma * (1 - done_t) * R_{t+1}, bootstrapped with `last_value` (N,)."""
    returns, running = torch.empty_like(rewards), last_value
    for t in range(rewards.shape[0] - 1, -1, -1):
        running = rewards[t] + gamma * (~dones[t]) * running
        returns[t] = running
    return returns


@dataclass
class Rollout:
    """One rollout, environment-major for the learner: obs (E, A, T, 3, w, w), states (E, A, T, S),
    the agents' cells (E, A, T, 2) (a local pool reads them), expert actions and returns (E, A, T);
    goals reached by the executed actions."""

    obs: torch.Tensor
    states: torch.Tensor
    positions: torch.Tensor
    experts: torch.Tensor
    returns: torch.Tensor
    goals: int


class Collector:
    """Steps E environments with an acting copy of the policy and the PIBT expert (no gradient)."""

    def __init__(self, env_cfg: EnvConfig, policy: SRMTPolicy, settings: ImitationConfig):
        self.settings = settings
        self.env = TorchBatchedEnv(env_cfg.replace(seed=settings.seed), settings.envs)
        self.E, self.A = settings.envs, self.env.num_agents
        self.actor = copy.deepcopy(policy).eval()
        self.rngs = [np.random.default_rng([settings.seed, e]) for e in range(self.E)]
        self.shield_rngs = [np.random.default_rng([settings.seed, e, 1]) for e in range(self.E)]
        self.generator = torch.Generator().manual_seed(settings.seed)
        self.expert, self.shield = make_expert(settings.expert), PIBTPlanner()
        self.obs, _ = self.env.reset(seed=settings.seed)
        self.expert.reset(self.E, self.A, self.rngs)
        self.shield.reset(self.E, self.A, self.shield_rngs)
        self.state = policy.initial_state(self.A, self.E * self.A)

    @torch.no_grad()
    def collect(self, share: float) -> Rollout:
        """`rollout` steps; each env executes the expert's actions with probability `share`."""
        E, A, T = self.E, self.A, self.settings.rollout
        obs, states, positions, experts, rewards, dones = [], [], [], [], [], []
        for _ in range(T):
            expert = torch.from_numpy(self.expert.actions(self.env, self.rngs))
            cells = self.env.positions.reshape(-1, 2).clone()  # (E*A, 2)
            logits, _, new_state = self.actor(self.obs, self.state, A, positions=cells)
            if self.settings.shield:
                ranked = action_preferences(logits, torch.rand(logits.shape, generator=self.generator, dtype=torch.float64))
                own = torch.from_numpy(self.shield.actions(self.env, self.shield_rngs, ranked.numpy()))
            else:
                own = torch.multinomial(torch.softmax(logits, -1), 1, generator=self.generator).squeeze(1)
            use_expert = (torch.rand(E, generator=self.generator) < share).repeat_interleave(A)
            obs.append(self.obs)
            states.append(self.state)
            positions.append(cells)
            experts.append(expert)
            self.obs, reward, terminated, truncated, infos = self.env.step(torch.where(use_expert, expert, own))
            done = terminated | truncated
            rewards.append(reward)
            dones.append(done)
            self.state = torch.where(done[:, None], 0.0, new_state)
            ended = infos["ended"].nonzero().flatten().tolist()
            if ended:
                self.expert.new_episodes(ended, self.rngs)
                self.shield.new_episodes(ended, self.shield_rngs)
        last_value = self.actor(self.obs, self.state, A, positions=self.env.positions.reshape(-1, 2))[1]
        returns = discounted_returns(torch.stack(rewards), torch.stack(dones), last_value, self.settings.gamma)

        def by_env(steps: torch.Tensor) -> torch.Tensor:  # (T, E*A, ...) -> (E, A, T, ...)
            return steps.view(T, E, A, *steps.shape[2:]).movedim(0, 2)

        return Rollout(by_env(torch.stack(obs)), by_env(torch.stack(states)), by_env(torch.stack(positions)),
                       by_env(torch.stack(experts)), by_env(returns), int((torch.stack(rewards) >= 1).sum()))


def imitate(env_cfg: EnvConfig, model_cfg: ModelConfig, settings: ImitationConfig, out: Path,
            report: Callable[[dict], None] = print, command: str = "", snapshot_every: int = 1_000_000,
            report_seconds: float = 30.0, init: SRMTPolicy | None = None) -> dict:
    """Clone PIBT into a new policy (or `init`) for `settings.samples` samples; write it to `out` (a policy
    file), and every `snapshot_every` samples a copy to `out.parent/snapshots-imitation/policy-<samples>.pt`.
    On Ctrl-C / SIGTERM (KeyboardInterrupt) the policy is written to `out` before the interrupt goes on.

    Returns:
        The last report: samples, wall seconds, accuracy, goals per step of the executed actions,
        seconds spent collecting and learning.
    """
    check_intent_loss(model_cfg, settings)
    torch.manual_seed(settings.seed)
    policy = init if init is not None else SRMTPolicy(model_cfg)
    policy.train()
    # made after the policy, so that the policy's initial weights do not depend on the intent loss
    head = IntentHead(model_cfg, settings.intent_moves) if settings.intent_loss > 0 else None
    optimizer = torch.optim.Adam([*policy.parameters(), *(head.parameters() if head else [])],
                                 lr=settings.learning_rate)
    learner_rng = torch.Generator().manual_seed(settings.seed + 1)
    collector = Collector(env_cfg, policy, settings)
    E, A, T = settings.envs, collector.A, settings.rollout
    per_rollout = E * A * T
    rollouts = math.ceil(settings.samples / per_rollout)
    started, samples, last_report, stats = time.time(), 0, 0.0, {}
    timing = {"collect_seconds": 0.0, "learn_seconds": 0.0}

    def save(path: Path) -> None:
        save_policy(path, policy, model_cfg, env_cfg.to_dict(),
                    {"algorithm": "SRMT", "command": command, "env_steps": samples, "decoding": "sample",
                     "shield": "pibt" if settings.shield else None,
                     "imitation": {**stats, "expert": expert_label(settings.expert), "settings": asdict(settings)}})

    def share_at(k: int) -> float:
        """Expert share of rollout k: falls with the budget spent (samples, or the time cap if it comes first)."""
        spent = k / rollouts
        if settings.seconds is not None:
            spent = max(spent, min(1.0, (time.time() - started) / settings.seconds))
        return 1.0 - (1.0 - settings.final_expert_share) * spent

    def collect(k: int, into: list) -> None:
        t0 = time.perf_counter()
        into.append(collector.collect(share_at(k)))
        timing["collect_seconds"] += time.perf_counter() - t0

    pending: list[Rollout] = []
    collect(0, pending)
    helper: threading.Thread | None = None
    try:
        for k in range(rollouts):
            batch = pending.pop()
            collector.actor.load_state_dict(policy.state_dict())
            helper = None
            if k + 1 < rollouts:
                helper = threading.Thread(target=collect, args=(k + 1, pending), daemon=True)
                helper.start()
            t0 = time.perf_counter()
            learned = learn(policy, optimizer, batch, settings, learner_rng, head)
            timing["learn_seconds"] += time.perf_counter() - t0
            if helper is not None:
                helper.join()
            samples += per_rollout
            out_of_time = settings.seconds is not None and time.time() - started >= settings.seconds
            last = k + 1 == rollouts or out_of_time
            if time.time() - last_report > report_seconds or last:
                last_report = time.time()
                stats = dict(samples=samples, seconds=round(time.time() - started, 1),
                             accuracy=round(learned["accuracy"], 4),
                             **({"intent_accuracy": round(learned["intent_accuracy"], 4)} if head else {}),
                             goals_per_step=round(batch.goals / T / E, 3), expert_share=round(share_at(k), 3),
                             loss=round(learned["loss"], 4), **{key: round(v, 1) for key, v in timing.items()})
                report(stats)
            if samples // snapshot_every != (samples - per_rollout) // snapshot_every and not last:
                save(out.parent / SNAPSHOTS / f"policy-{samples:011d}.pt")
            if out_of_time:
                break
    except KeyboardInterrupt:
        if helper is not None:  # let the collecting thread finish its rollout: a thread still inside torch
            helper.join()       # when the interpreter exits aborts the process ("terminate called ...")
        save(out)
        raise
    save(out)
    return stats


@torch.no_grad()
def expert_accuracy(policy: SRMTPolicy, env_cfg: EnvConfig, envs: int = 16, rollouts: int = 8,
                    seed: int = 0, expert: str = "pibt") -> float:
    """Share of agent-steps where the policy's most likely action is the expert's (a name of EXPERTS), the expert
    acting on `env_cfg`'s maps for `rollouts` x 8 steps of `envs` environments (held out when the maps are)."""
    settings = ImitationConfig(envs=envs, seed=seed, expert=expert)
    was_training = policy.training
    collector = Collector(env_cfg, policy.eval(), settings)
    hits = total = 0
    for _ in range(rollouts):
        batch = collector.collect(1.0)
        logits, _ = policy.unroll(batch.obs, batch.states, collector.A, batch.positions)
        hits += int((logits.argmax(-1) == batch.experts).sum())
        total += batch.experts.numel()
    policy.train(was_training)
    return hits / total


def learn(policy: SRMTPolicy, optimizer: torch.optim.Optimizer, batch: Rollout, settings: ImitationConfig,
          rng: torch.Generator, intent_head: IntentHead | None = None) -> dict[str, float]:
    """`epochs` passes over `batch` in minibatches of whole environments.

    The loss is the cross-entropy against the expert's actions plus `value_coef` x the value loss, plus, with
    an `intent_head`, `intent_loss` x its cross-entropy on each agent's next `intent_moves` expert actions
    (srmt/intent.py), read from the memory the agent wrote at that step.

    Returns:
        accuracy, loss and (with an intent head) intent_accuracy of the last minibatch.
    """
    A = batch.obs.shape[1]
    for _ in range(settings.epochs):
        for envs in torch.randperm(batch.obs.shape[0], generator=rng).split(settings.minibatch_envs):
            logits, values, memories = policy.unroll_memories(batch.obs[envs], batch.states[envs], A,
                                                              batch.positions[envs])
            target = batch.experts[envs].flatten()
            loss = (F.cross_entropy(logits.flatten(0, 2), target)
                    + settings.value_coef * F.mse_loss(values.flatten(), batch.returns[envs].flatten()))
            if intent_head is not None:
                states = batch.states[envs]  # (e, A, T, S)
                starts = unpack_state(states.flatten(0, 2), policy.cfg, A).steps_seen.view(states.shape[:3]) == 0
                moves, valid = next_moves(batch.experts[envs], starts, settings.intent_moves)  # (e, A, T, K)
                intent, intent_accuracy = intent_loss(intent_head(memories), moves, valid)
                loss = loss + settings.intent_loss * intent
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    accuracy = float((logits.flatten(0, 2).argmax(1) == target).float().mean())
    return {"accuracy": accuracy, "loss": loss.item(),
            **({"intent_accuracy": intent_accuracy} if intent_head is not None else {})}
