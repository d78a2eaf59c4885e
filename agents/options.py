"""The agent's command-line options, shared by `srmt eval`, `srmt render`, `srmt toolbox` and the benchmarks,
and `spec_from_args`, the one place they become an `AgentSpec` (agents.spec).

    >>> parser = argparse.ArgumentParser()
    >>> add_agent_options(parser)
    >>> spec_from_args(parser.parse_args(["--algo", "pibt"]), lifelong=True)
    AgentSpec(algo='pibt', checkpoint=None, device='cpu', sample=None, seed=0, batched=True, lifelong=True, shield=None, memory_intervention='none', pool=())
    >>> parser.parse_args(["--shield", "none"]).shield is None
    True
"""
from __future__ import annotations

import argparse
import sys

from agents import ALGORITHMS, INTERVENTIONS, POOL_FIELDS, POOL_KINDS, SHIELDS, algorithms_help
from agents.spec import AgentSpec
from common.options import NON_NEGATIVE_INT, POSITIVE_INT

NO_SHIELD = "none"
"""How the command line says 'no shield'; everywhere else it is None (`shield_value` converts it)."""


def shield_value(text: str) -> str | None:
    """--shield's argparse type: None for 'none', else one of agents.SHIELDS."""
    if text == NO_SHIELD:
        return None
    if text not in SHIELDS:
        raise argparse.ArgumentTypeError(f"invalid choice: {text!r} (choose from {', '.join((NO_SHIELD, *SHIELDS))})")
    return text


def add_shield_option(parser: argparse.ArgumentParser, help_text: str, default: str | None = None) -> None:
    """--shield {none,pibt,guided-pibt} (`shield_value`: None for none), with the command's own help."""
    parser.add_argument("--shield", type=shield_value, default=default, metavar="{" + ",".join((NO_SHIELD, *SHIELDS)) + "}",
                        help=help_text)


def add_decoding_options(parser: argparse.ArgumentParser) -> None:
    """--sample / --argmax (default: the policy file's recommended decoding)."""
    decoding = parser.add_mutually_exclusive_group()
    decoding.add_argument("--sample", action="store_true", default=None,
                          help="sample actions from the policy (default: the policy file's recommended "
                               "decoding; the shipped lifelong policy samples, the Bottleneck one takes the argmax)")
    decoding.add_argument("--argmax", dest="sample", action="store_false", help="take the most likely action")


def add_policy_options(parser: argparse.ArgumentParser) -> None:
    """Every option of an SRMT policy but --checkpoint and --algo: device, decoding, shield, memory
    intervention, pool, agent seed."""
    parser.add_argument("--device", default="cpu", help="torch device of the policy: cpu, cuda, cuda:N (default cpu)")
    add_decoding_options(parser)
    add_shield_option(parser, "pibt: execute SRMT's ranked actions through the PIBT collision shield (conflict-free "
                      "moves; assumes agents exchange intentions with their neighbours; the published SRMT "
                      "has no shield); guided-pibt: the same with the policy's other choices in guided PIBT's "
                      "traffic order (docs/shield.md). SRMT only (default none)")
    parser.add_argument("--memory-intervention", choices=INTERVENTIONS, default="none",
                        help="replace the shared pool the agents read, at test time, same weights: zero-pool (zeros), "
                             "own-only (each agent its own memory), shuffle-envs (another environment's agents), "
                             "freeze (the pool after the episode's first step); a policy of variant srmt only "
                             "(default none)")
    parser.add_argument("--pool", choices=POOL_KINDS, default=None,
                        help="read the global pool (every agent) or a local one (the nearest agents) with the same "
                             "weights (default: the policy file's)")
    parser.add_argument("--pool-neighbours", type=POSITIVE_INT.argtype("--pool-neighbours"), default=None,
                        metavar="K", help="memories a local pool reads, the agent's own included (default: the "
                                          "policy file's); needs a local pool (--pool local, or a policy trained so)")
    parser.add_argument("--pool-radius", type=NON_NEGATIVE_INT.argtype("--pool-radius"), default=None, metavar="R",
                        help="search radius in cells of a local pool (default: the policy file's); needs a local pool")
    parser.add_argument("--agent-seed", type=NON_NEGATIVE_INT.argtype("--agent-seed"), default=0, metavar="S",
                        help="seed of the agent's random streams (sampling, random/A* tie breaks; default 0)")


def add_agent_options(parser: argparse.ArgumentParser) -> None:
    """--checkpoint or --algo, and the policy options (`add_policy_options`)."""
    who = parser.add_mutually_exclusive_group()
    who.add_argument("--checkpoint", metavar="FILE",
                     help="SRMT policy file (default: the shipped policy that fits: agents/pretrained/"
                          "lifelong_srmt.pt for lifelong suites and maps, lifelong_srmt_shield.pt with --shield, "
                          "bottleneck_srmt.pt otherwise)")
    who.add_argument("--algo", choices=ALGORITHMS, default=None, help=f"{algorithms_help()} (default srmt)")
    add_policy_options(parser)


def pool_of(args: argparse.Namespace) -> tuple[tuple[str, object], ...]:
    """The pool fields given on the command line, as AgentSpec.pool."""
    return tuple((field, getattr(args, field)) for field in POOL_FIELDS if getattr(args, field) is not None)


def spec_from_args(args: argparse.Namespace, lifelong: bool, *, algo: str | None = None,
                   checkpoint: str | None = None, announce: bool = True) -> AgentSpec:
    """The agent of the command line (options of `add_agent_options`, or of `add_policy_options` with `algo`
    and `checkpoint` given); checked here (AgentSpec), before any work. With `announce`, says on stderr which
    shipped policy it picked when no --checkpoint is given."""
    algo = algo or getattr(args, "algo", None) or "srmt"
    checkpoint = checkpoint or getattr(args, "checkpoint", None)
    spec = AgentSpec(algo=algo, checkpoint=checkpoint, device=args.device, sample=args.sample, seed=args.agent_seed,
                     lifelong=lifelong, shield=args.shield, memory_intervention=args.memory_intervention,
                     pool=pool_of(args))
    if announce and algo == "srmt" and checkpoint is None:
        kind = "lifelong" if lifelong else "Bottleneck"
        print(f"no --checkpoint: using the shipped {kind} policy {spec.policy_path}", file=sys.stderr)
    return spec
