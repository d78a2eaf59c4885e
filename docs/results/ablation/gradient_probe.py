"""Does anything in the implementation starve the shared memory of learning signal? (docs/model.md,
"Does the shared memory help?"; writes gradient_probe.json beside this file.)

For each policy (the bottleneck preset's srmt at initialisation in the memory modes and masks, and trained
policies given on the command line), a rollout of T steps in E Bottleneck training environments (torch
backend, sparse reward, sampled actions from the episode start), then the learner's pass over it
(`SRMTPolicy.unroll`, the policy's memory mode) and a PPO-like surrogate: -mean(log pi(a) * adv) +
0.5 * mean((v - ret)^2), with adv and ret standard normal (seeded): at the start of training the advantages
are noise around zero, so this is the gradient's scale, not its direction. Measured:

- the gradient norm of each parameter group, and its ratio to the group's weight norm;
- how much the pool moves the actions: mean |logits - logits with the pool replaced by zeros| during acting,
  against the mean |logits - their mean| (the logits' own spread);
- the memories: norm at the first step (made from the current token) and later, and the mean per-step
  change after the first step (causal mask: the memory token sees only itself and the pool).

Given `--experiment NAME=DIR` (a training's experiment directory), also what its TensorBoard summary logged:
the learning rate of the KL-adaptive schedule, the KL divergence, the logged gradient norm, the policy entropy
and the training CSR and ISR, at about 12 points.

    python docs/results/ablation/gradient_probe.py [--policy NAME=FILE ...] [--experiment NAME=DIR ...]
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT))

from envs.backends import make_backend  # noqa: E402
from envs.config import EnvConfig  # noqa: E402
from srmt import ModelConfig, SRMTPolicy  # noqa: E402
from srmt.checkpoint import load_policy  # noqa: E402
from srmt.interventions import make_intervention  # noqa: E402
from srmt.state import unpack_state  # noqa: E402
from train.presets import BOTTLENECK_TRAIN_PATTERN  # noqa: E402

GROUPS = {"encoder": "encoder.", "position table": "core.wpe", "self-attention": ".attn.",
          "pool cross-attention": ".crossattention.", "MLP": ".mlp.", "layer norms": ".ln_",
          "memory head": "core.memory_head", "policy head": "policy_head", "value head": "value_head"}


def group_of(name: str) -> str:
    return next((g for g, part in GROUPS.items() if part in name), "other")


def rollout(policy: SRMTPolicy, envs: int, steps: int, seed: int) -> dict:
    """Act (grouped, sampled) for `steps` steps from the episode start; the stored obs, states, actions, and
    the logits with and without the pool at each step."""
    env = make_backend("torch", EnvConfig(map_name=None, map_pattern=BOTTLENECK_TRAIN_PATTERN, num_agents=2,
                                          obs_radius=2, collision_system="block_both", on_target="finish",
                                          max_episode_steps=512, reward="sparse", seed=seed), envs)
    agents = env.num_agents
    obs, _ = env.reset(seed)
    state = policy.initial_state(agents, env.num_rows)
    generator = torch.Generator().manual_seed(seed)
    stored = dict(obs=[], states=[], actions=[], pool_effect=[], spread=[], memory=[])
    cfg = policy.cfg
    with torch.no_grad():
        for _ in range(steps):
            logits, _, new_state = policy(obs, state, agents)
            if cfg.uses_pool:
                policy.core.intervention = make_intervention("zero-pool")
                zeroed, _, _ = policy(obs, state, agents)
                policy.core.intervention = None
                stored["pool_effect"].append((logits - zeroed).abs().mean().item())
            stored["spread"].append((logits - logits.mean(-1, keepdim=True)).abs().mean().item())
            actions = torch.multinomial(torch.softmax(logits, -1), 1, generator=generator).squeeze(-1)
            stored["obs"].append(obs.clone())
            stored["states"].append(state.clone())
            stored["actions"].append(actions)
            if cfg.uses_memory:
                stored["memory"].append(unpack_state(new_state, cfg, agents).memory.clone())
            obs, _, _, _, _ = env.step(actions)
            state = new_state
    env.close()
    shape = (envs, agents, steps)
    return dict(obs=torch.stack(stored["obs"], 1).view(envs, agents, steps, *obs.shape[1:]).clone(),
                states=torch.stack(stored["states"], 1).view(*shape, -1),
                actions=torch.stack(stored["actions"], 1).view(*shape),
                pool_effect=stored["pool_effect"], spread=stored["spread"], memory=stored["memory"])


def probe(policy: SRMTPolicy, envs: int, steps: int, seed: int) -> dict:
    """The figures of the module docstring for one policy."""
    data = rollout(policy, envs, steps, seed)
    # the rollout ran from the episode start, as the learner's first rollout of an episode: states stored
    # per step were made by acting, so `unroll` sees what the learner sees
    policy.zero_grad()
    logits, values = policy.unroll(data["obs"], data["states"], policy_agents(data))
    g = torch.Generator().manual_seed(seed + 1)
    adv = torch.randn(values.shape, generator=g)
    ret = torch.randn(values.shape, generator=g)
    logp = torch.log_softmax(logits, -1).gather(-1, data["actions"][..., None]).squeeze(-1)
    loss = -(logp * adv).mean() + 0.5 * ((values - ret) ** 2).mean()
    loss.backward()
    grads: dict[str, list[float]] = {}
    for name, param in policy.named_parameters():
        entry = grads.setdefault(group_of(name), [0.0, 0.0])
        entry[0] += 0.0 if param.grad is None else float(param.grad.pow(2).sum())
        entry[1] += float(param.detach().pow(2).sum())
    result = {"gradient_norm_total": round(sum(v[0] for v in grads.values()) ** 0.5, 6),
              "gradient_norm": {g: round(v[0] ** 0.5, 6) for g, v in grads.items()},
              "gradient_to_weight": {g: round(v[0] ** 0.5 / max(v[1] ** 0.5, 1e-12), 6) for g, v in grads.items()}}
    if data["pool_effect"]:
        late = data["pool_effect"][1:]  # step 0 reads no pool
        result["pool_effect_on_logits"] = round(sum(late) / len(late), 6)
        result["logit_spread"] = round(sum(data["spread"][1:]) / len(late), 6)
    if data["memory"]:
        memory = data["memory"]
        result["memory_norm_first_step"] = round(memory[0].norm(dim=-1).mean().item(), 4)
        result["memory_norm_later"] = round(torch.stack(memory[1:]).norm(dim=-1).mean().item(), 4)
        result["memory_change_per_step_after_first"] = round(
            sum((b - a).norm(dim=-1).mean().item() for a, b in zip(memory[1:], memory[2:])) / (len(memory) - 2), 4)
    return result


def logged(experiment: Path, points: int = 12) -> dict[str, list[list[float]]]:
    """(env steps, value) of the schedule's and the optimizer's logged scalars, about `points` of each."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    values: dict[str, dict[int, float]] = {}
    for events in sorted((experiment / ".summary").rglob("events.out.tfevents.*")):
        acc = EventAccumulator(str(events), size_guidance={"scalars": 0})
        acc.Reload()
        for tag in ("train/lr", "train/kl_divergence", "train/grad_norm", "train/entropy", "metrics/CSR",
                    "metrics/ISR"):
            if tag in acc.Tags()["scalars"]:
                values.setdefault(tag, {}).update({e.step: e.value for e in acc.Scalars(tag)})
    series = {}
    for tag, by_step in values.items():
        steps = sorted(by_step)
        series[tag] = [[s, round(by_step[s], 6)] for s in steps[::max(1, len(steps) // points)]]
    if "train/lr" in values:
        lr = values["train/lr"]
        top = max(lr.values())
        series["lr max, first at env steps"] = [[min(s for s, v in lr.items() if v >= top * 0.999), round(top, 6)]]
    return series


def policy_agents(data: dict) -> int:
    return data["obs"].shape[1]


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--policy", action="append", default=[], metavar="NAME=FILE",
                        help="a trained policy file to probe as well")
    parser.add_argument("--experiment", action="append", default=[], metavar="NAME=DIR",
                        help="a training's experiment directory whose logged lr / KL / gradient norm to record")
    parser.add_argument("--envs", type=int, default=64)
    parser.add_argument("--steps", type=int, default=16)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=str(Path(__file__).with_name("gradient_probe.json")))
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    policies: dict[str, SRMTPolicy] = {}
    for variant, memory, mask in [("srmt", "learned", "causal"), ("srmt", "learned", "full"),
                                  ("srmt", "stored", "causal"), ("rmt", "learned", "causal"),
                                  ("attention", "learned", "causal"), ("empty", "learned", "causal")]:
        torch.manual_seed(args.seed)
        policies[f"init {variant} memory={memory} mask={mask}"] = SRMTPolicy(
            ModelConfig.preset("bottleneck", variant=variant, memory=memory, attention_mask=mask))
    for item in args.policy:
        name, _, path = item.partition("=")
        policies[name] = load_policy(path).model
    results = {}
    for name, policy in policies.items():
        results[name] = probe(policy.train(), args.envs, args.steps, args.seed)
        print(name, json.dumps(results[name]), flush=True)
    trainings = {}
    for item in args.experiment:
        name, _, path = item.partition("=")
        trainings[name] = logged(Path(path))
    Path(args.out).write_text(json.dumps(dict(command=" ".join(["python", *sys.argv]), envs=args.envs,
                                              steps=args.steps, seed=args.seed, policies=results,
                                              trainings=trainings), indent=1) + "\n")
    print(f"written to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
