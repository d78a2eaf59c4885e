"""`srmt render`: play one episode and write SVG, MP4 and GIF animations.

    srmt render --map bottleneck-20 --agents 2 --seed 3 --path-channel
    srmt render --map bottleneck-12 --agents 2 --seed 3 --attention
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import get_args

from common.options import NON_NEGATIVE_INT, POSITIVE_INT, Range
from envs.config import CollisionSystem, EnvConfig, OnTarget, is_lifelong
from agents.options import add_agent_options, spec_from_args
from eval.cli import MAPS_HELP
from eval.evaluate import describe_agent

FPS = Range(1, 60, integer=True)


def add_subparser(subparsers: argparse._SubParsersAction) -> None:
    """Register `render`."""
    r = subparsers.add_parser("render", help="play one episode and write SVG, MP4 and GIF animations")
    add_agent_options(r)
    r.add_argument("--map", required=True, metavar="NAME", help="map name (see `srmt maps list`)")
    r.add_argument("--agents", type=POSITIVE_INT.argtype("--agents"), default=2, metavar="N", help="number of agents (default 2)")
    r.add_argument("--seed", type=NON_NEGATIVE_INT.argtype("--seed"), default=0, metavar="S", help="task seed (default 0)")
    r.add_argument("--maps-dir", metavar="DIR", help=MAPS_HELP)
    r.add_argument("--out", default="runs/render", metavar="DIR", help="output directory (default runs/render)")
    r.add_argument("--path-channel", action="store_true", help="draw every agent's shortest path to its goal")
    r.add_argument("--max-steps", type=POSITIVE_INT.argtype("--max-steps"), metavar="T", help="stop after T steps (default: the episode length)")
    r.add_argument("--on-target", choices=get_args(OnTarget),
                   help="override the map's suite dynamics (default: bottleneck finish, benchmark maps restart)")
    r.add_argument("--collision-system", choices=get_args(CollisionSystem), help="override collisions")
    r.add_argument("--fps", type=FPS.argtype("--fps"), default=6, help="video frames per second, 1-60 (default 6)")
    r.add_argument("--formats", nargs="+", choices=("svg", "mp4", "gif"), default=["svg", "mp4", "gif"],
                   help="files to write (default all three)")
    r.add_argument("--attention", action="store_true",
                   help="draw who reads whose memory in the shared pool at every step, and the focused agent's "
                        "attention over its memory, history and current tokens (an SRMT policy of variant srmt)")
    r.add_argument("--focus", type=NON_NEGATIVE_INT.argtype("--focus"), metavar="K",
                   help="with --attention: the agent whose reads are all drawn, with its token strip (default 0)")
    r.add_argument("--links", type=NON_NEGATIVE_INT.argtype("--links"), metavar="N",
                   help="with --attention: the N strongest reads of every agent, if strong enough (default 2)")
    r.add_argument("--no-progress", action="store_true", help="no progress bar")
    r.set_defaults(func=run_render)


def run_render(args: argparse.Namespace) -> int:
    from render.frames import AttentionView
    from render.play import render, render_config
    from eval.suites import EvalError, suite_of_map

    if not args.attention and (args.focus is not None or args.links is not None):
        raise EvalError("--focus and --links choose what --attention draws: add --attention")
    suite = suite_of_map(args.map)
    lifelong = is_lifelong(args.on_target) if args.on_target else bool(suite and suite.lifelong)
    agent = spec_from_args(args, lifelong).build()
    description = describe_agent(agent)
    if description:
        print(description, file=sys.stderr)
    if suite is not None and args.on_target is None:
        from eval.evaluate import check_agent_fits

        check_agent_fits(suite, agent)
    radius = agent.obs_radius or (suite.default_obs_radius if suite else 2)
    config = render_config(args.map, args.agents, maps_dir=args.maps_dir, obs_radius=radius,
                           on_target=args.on_target, collision_system=args.collision_system,
                           max_steps=args.max_steps).replace(guidance=getattr(agent, "guidance", EnvConfig.guidance))
    attention = None
    if args.attention:  # AttentionView's defaults for what is not given
        attention = AttentionView(**{k: v for k, v in (("focus", args.focus), ("links", args.links)) if v is not None})
    files = render(agent, config, args.seed, Path(args.out), path_channel=args.path_channel, fps=args.fps,
                   svg="svg" in args.formats, mp4="mp4" in args.formats, gif="gif" in args.formats,
                   progress=not args.no_progress, attention=attention)
    for kind, path in files.items():
        print(f"{kind}: {path}")
    return 0
