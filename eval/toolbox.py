"""SRMT and PIBT inside pogema-toolbox's evaluator (the optional extra: pip install -e ".[toolbox]").

pogema-toolbox 0.1.1 runs an algorithm on a pogema env it creates, resets and
steps itself, and writes the POGEMA benchmark's raw records. `register()`
adds to its registry:

- algorithms ``SRMT`` (a policy file; default: the shipped lifelong policy)
  and ``PIBT`` (this project's centralised planner), each with a config class
  (`ToolboxAgentConfig`: the fields of agents.spec.AgentSpec) and a
  preprocessing wrapper (`MirrorWrapper`) that lets the agent read the env's
  true state through a one-env `PogemaBatchedEnv` mirror, so observations come
  from the same Observer as in `srmt eval`;
- the env ``Environment`` as the benchmark builds it (pogema + agents-density
  + map choice by name + runtime metrics), unless one is registered already;
- every map srmt knows (the shipped benchmark suites included) that the
  toolbox registry does not have yet.

`load_config(path)` loads a toolbox YAML config (the benchmark's
``NN-suite.yaml`` files are such configs), optionally replaces its
``algorithms`` section, gives every SRMT entry the command line's agent
options (an AgentSpec; refused when no entry is SRMT), checks that every
algorithm is registered and that every agent fits the environment's dynamics
(`srmt eval`'s check, eval.evaluate.check_agent_fits: e.g. no Bottleneck
policy on a lifelong config), and names each SRMT entry by its agent
(`SRMT+pibt-shield`, `SRMT-empty`, ...: the records, table and file name say
what ran); `run_config` runs the evaluator; `srmt toolbox CONFIG` is the command.
"""
from __future__ import annotations

import copy
import dataclasses
import functools
from pathlib import Path
from typing import Optional, Sequence

import gymnasium
import yaml

from envs.config import EnvConfig
from envs.pogema_backend import PogemaBatchedEnv
from eval.toolbox_names import TOOLBOX_ALGORITHMS
from eval.evaluate import check_agent_fits
from agents.spec import AgentSpec
from eval.suites import EvalError, Suite
from common.outputs import DIRECTORY, check_output
from maps.registry import default_registry

try:
    from pogema import pogema_v0
    from pogema.wrappers.metrics import AgentsDensityWrapper, RuntimeMetricWrapper
    from pogema_toolbox.algorithm_config import AlgoBase
    from pogema_toolbox.config_variant_generator import generate_variants
    from pogema_toolbox.create_env import Environment, MultiMapWrapper
    from pogema_toolbox.registry import ToolboxRegistry
except ImportError as err:  # the extra is not installed
    raise ImportError(f"pogema-toolbox is not installed ({err}); install the extra: "
                      "pip install -e \".[toolbox]\"") from err

VIEW_KEY = "srmt_view"
"""Key under which MirrorWrapper hands the env mirror to the agent, in every observation dict."""


class ToolboxAgentConfig(AlgoBase):
    """An algorithm entry of a toolbox config. `name` is SRMT or PIBT."""

    checkpoint: Optional[str] = None
    """SRMT policy file; None: the shipped lifelong policy"""
    sample: Optional[bool] = None
    """SRMT decoding; None: the policy file's recommendation"""
    shield: Optional[str] = None
    """SRMT only: None, or "pibt" (the PIBT collision shield, agents/srmt_agent.py)"""
    memory_intervention: str = "none"
    """SRMT only: what replaces the shared pool (srmt.interventions)"""
    pool: Optional[str] = None
    """SRMT only: global or local pool on the same weights (None: the policy file's)"""
    pool_neighbours: Optional[int] = None
    pool_radius: Optional[int] = None
    lifelong: bool = True
    """SRMT without a checkpoint: the shipped lifelong policy, else the Bottleneck one (load_config sets it
    from the environment's on_target)"""
    device: str = "cpu"
    parallel_backend: str = "sequential"
    num_process: int = 1
    preprocessing: Optional[str] = "srmt-mirror"


class MirrorWrapper(gymnasium.Wrapper):
    """Adds to every observation dict a one-env PogemaBatchedEnv that mirrors the wrapped pogema env."""

    def __init__(self, env: gymnasium.Env, config: ToolboxAgentConfig | None = None):
        super().__init__(env)
        self.view: PogemaBatchedEnv | None = None

    def reset(self, **kwargs):
        observations, info = self.env.reset(**kwargs)
        pogema = self.env.unwrapped
        config = pogema.grid_config
        rows = pogema.grid.get_obstacles(ignore_borders=True)
        grid = "\n".join("".join("#" if cell else "." for cell in row) for row in rows)
        mirror = EnvConfig(map_name=None, grid=grid, num_agents=config.num_agents, seed=config.seed,
                           obs_radius=config.obs_radius, collision_system=config.collision_system,
                           on_target=config.on_target, max_episode_steps=config.max_episode_steps)
        self.view = PogemaBatchedEnv(mirror, num_envs=1, auto_reset=False)
        self.view.mirror(0, pogema)
        return self._with_view(observations), info

    def step(self, actions):
        observations, rewards, terminated, truncated, infos = self.env.step(actions)
        self.view.sync(0)
        return self._with_view(observations), rewards, terminated, truncated, infos

    def _with_view(self, observations: list[dict]) -> list[dict]:
        return [{**obs, VIEW_KEY: self.view} for obs in observations]


class ToolboxAgent:
    """A srmt agent behind pogema-toolbox's algorithm interface (reset_states, act)."""

    def __init__(self, algo: str, config: ToolboxAgentConfig):
        self.agent = agent_spec(algo, config).build()
        self._view: PogemaBatchedEnv | None = None

    def reset_states(self) -> None:
        self._view = None

    def act(self, observations: list[dict]) -> list[int]:
        view = observations[0].get(VIEW_KEY)
        if view is None:
            raise EvalError(f"the algorithm's observations lack {VIEW_KEY!r}: its entry must keep "
                            "preprocessing: srmt-mirror (the default)")
        if view is not self._view:  # a new episode
            radius = view.config.obs_radius
            if self.agent.obs_radius not in (None, radius):
                raise EvalError(f"the policy sees a radius-{self.agent.obs_radius} window but the toolbox config "
                                f"sets obs_radius {radius}; set obs_radius: {self.agent.obs_radius} in its "
                                "environment section")
            guidance = getattr(self.agent, "guidance", view.config.guidance)
            if guidance != view.config.guidance:
                raise EvalError(f"the policy observes with guidance {guidance!r}; the toolbox mirror observes with "
                                f"{view.config.guidance!r}: evaluate this policy with `srmt eval`")
            self._view = view
            self.agent.reset(1, view.num_agents, [view.tasks[0].seed])
        return self.agent.act(view.observe(), view).tolist()


POOL_ENTRY_FIELDS = ("pool", "pool_neighbours", "pool_radius")
"""The entry keys of AgentSpec.pool (agents.POOL_FIELDS)."""


def agent_spec(algo: str, config: ToolboxAgentConfig) -> AgentSpec:
    """The agent an algorithm entry runs (`algo`: this project's name of it)."""
    srmt_keys = [key for key in ("checkpoint", "sample", "shield", *POOL_ENTRY_FIELDS) if getattr(config, key) is not None]
    if config.memory_intervention != "none":
        srmt_keys.append("memory_intervention")
    if algo != "srmt" and srmt_keys:
        raise EvalError(f"{', '.join(srmt_keys)} {'is' if len(srmt_keys) == 1 else 'are'} for SRMT, not "
                        f"{config.name}; remove {'it' if len(srmt_keys) == 1 else 'them'} from the algorithm's entry")
    pool = tuple((key, getattr(config, key)) for key in POOL_ENTRY_FIELDS if getattr(config, key) is not None)
    return AgentSpec(algo=algo, checkpoint=config.checkpoint, device=config.device if algo == "srmt" else "cpu",
                     sample=config.sample, seed=config.seed or 0, lifelong=config.lifelong, shield=config.shield,
                     memory_intervention=config.memory_intervention, pool=pool)


def _flag(key: str, value: object) -> str:
    """The command-line option of an SRMT entry key: ('seed', 3) -> '--agent-seed 3'."""
    if key == "sample":
        return "--sample" if value else "--argmax"
    return f"--{'agent-seed' if key == 'seed' else key.replace('_', '-')} {value}"


def entry_options(spec: AgentSpec) -> dict:
    """The options of `spec` other than AgentSpec's defaults, as the keys of an SRMT entry."""
    default = AgentSpec()
    options = {f.name: getattr(spec, f.name) for f in dataclasses.fields(AgentSpec)
               if f.name not in ("algo", "batched", "lifelong", "pool") and getattr(spec, f.name) != getattr(default, f.name)}
    return options | dict(spec.pool)


def make_benchmark_env(config: Environment) -> gymnasium.Env:
    """The env as the POGEMA benchmark evaluates: agents density, map picked by name, runtime metric."""
    env = pogema_v0(grid_config=config)
    env = AgentsDensityWrapper(env)
    env = MultiMapWrapper(env)
    return RuntimeMetricWrapper(env)


def register(maps_dir: str | None = None) -> None:
    """Register SRMT, PIBT, the benchmark env (if absent) and srmt's maps (those absent) with pogema-toolbox."""
    ToolboxRegistry.debug("registering srmt's algorithms, env and maps")  # also sets up its logger
    state = ToolboxRegistry.get_state()
    if "Environment" not in state["envs"]:
        ToolboxRegistry.register_env("Environment", make_benchmark_env, Environment)
    for name, algo in TOOLBOX_ALGORITHMS.items():
        if name not in state["algorithms"]:
            ToolboxRegistry.register_algorithm(name, functools.partial(ToolboxAgent, algo), ToolboxAgentConfig,
                                               MirrorWrapper)
    known = ToolboxRegistry.get_maps()
    registry = default_registry(maps_dir)
    ToolboxRegistry.register_maps({name: registry.grid(name) for name in registry.names() if name not in known})


def load_config(path: str | Path, algorithms: Sequence[str] = (), spec: AgentSpec | None = None) -> dict:
    """A toolbox config; `algorithms` (toolbox names) replace its algorithms section; every SRMT entry gets
    the options of `spec` that differ from AgentSpec's defaults (the command line's), and is keyed by its
    agent's name when its key was the bare algorithm name.

    Raises:
        EvalError: unreadable file, no environment section, an algorithm that is not registered, SRMT
            options without an SRMT entry, or an agent that does not fit the environment's dynamics.
    """
    try:
        config = yaml.safe_load(Path(path).read_text())
    except (OSError, yaml.YAMLError) as err:
        raise EvalError(f"cannot read toolbox config {path}: {err}") from err
    if not isinstance(config, dict) or not isinstance(config.get("environment"), dict):
        raise EvalError(f"{path} is not a pogema-toolbox config: it needs an 'environment:' mapping "
                        "(see maps/data/pogema-benchmark/*/NN-suite.yaml)")
    config = copy.deepcopy(config)
    if algorithms:
        config["algorithms"] = {name: {"name": name} for name in algorithms}
    entries = config.get("algorithms") or {}
    registered = sorted(ToolboxRegistry.get_state()["algorithms"])
    for key, entry in entries.items():
        name = entry.get("name") if isinstance(entry, dict) else None
        if name not in registered:
            raise EvalError(f"{path}: algorithm {key!r} names {name!r}, which is not registered with pogema-toolbox "
                            f"(registered: {', '.join(registered)}); pass --algo {' '.join(TOOLBOX_ALGORITHMS)} "
                            "to replace the config's algorithms")
    if not entries:
        raise EvalError(f"{path} has no algorithms: pass --algo {' '.join(TOOLBOX_ALGORITHMS)}")
    options = entry_options(spec) if spec is not None else {}
    srmt = [entry for entry in entries.values() if entry["name"] == "SRMT"]
    if options and not srmt:
        given = " ".join(_flag(k, v) for k, v in options.items())
        raise EvalError(f"{given}: {'this option acts' if len(options) == 1 else 'these options act'} on SRMT, "
                        f"but the run has {', '.join(entries)} only: add SRMT to --algo, or drop "
                        f"{'it' if len(options) == 1 else 'them'}")
    on_targets = dynamics(config)
    for entry in srmt:
        entry.update(options)
        entry.setdefault("lifelong", on_targets == ["restart"])
    names = check_agents_fit(entries, on_targets, Path(path).name)
    config["algorithms"] = {names.get(key, key) if key == entry["name"] else key: entry for key, entry in entries.items()}
    return config


def dynamics(config: dict) -> list[str]:
    """The on_target values of a toolbox config's environment variants, sorted."""
    return sorted({variant.get("on_target", Environment().on_target)
                   for _, variant in generate_variants(config["environment"])})


def check_agents_fit(entries: dict, on_targets: Sequence[str], source: str) -> dict[str, str]:
    """EvalError when an algorithm entry's agent does not fit an on_target of the environment: the check
    `srmt eval` applies (eval.evaluate.check_agent_fits), against a suite of that dynamics. Returns the
    name of every entry's agent, by entry key."""
    names = {}
    for key, entry in ((k, e) for k, e in entries.items() if e["name"] in TOOLBOX_ALGORITHMS):
        config = ToolboxRegistry.create_algorithm_config(entry["name"], **entry)
        agent = agent_spec(TOOLBOX_ALGORITHMS[entry["name"]], config).build()
        names[key] = agent.name
        for on_target in on_targets:
            check_agent_fits(Suite(f"toolbox config {source}", source, None, (), (), (), None, on_target, ""), agent)
    return names


def run_config(config: dict, out_dir: str | Path | None = None) -> list[dict]:
    """Run pogema-toolbox's evaluator on `config`; ALGO.json raw files go to `out_dir` when given (checked
    before the evaluator starts: common.outputs.check_output)."""
    from pogema_toolbox.evaluator import evaluation

    if out_dir:
        out_dir = check_output(out_dir, "--out", DIRECTORY)
    return evaluation(config, eval_dir=str(out_dir) if out_dir else None)

