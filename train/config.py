"""The training configuration: a preset plus command-line overrides, checked before anything starts.

Override scheme (docs/training.md):

    srmt train --preset bottleneck --reward sparse --env.num_agents 2 --hidden 32 --sf.batch_size 2048

- `--KEY VALUE` or `--KEY=VALUE`; dashes and underscores in KEY are the same.
- KEY is `SECTION.FIELD` with SECTION one of run, env, model, sf, or a bare
  FIELD when only one section has it (`--hidden` = `--model.hidden`).
  `obs_radius` (env and model) and `seed` (env and sf) are one setting each:
  any spelling sets both sections.
- Unknown keys, keys of several sections, malformed values and options that
  `srmt train` manages itself are errors naming the fix, like nanoGPT's
  configurator; every problem is reported at once.

Resuming: when the experiment directory already holds `srmt_config.json`,
that saved config (not the preset) is the base the overrides apply to, so
the same command continues the same run; weights-shaping changes (any model
field, env.num_agents, env.obs_radius) are refused.
"""
from __future__ import annotations

import argparse
import dataclasses
import difflib
import json
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, get_args, get_origin

from envs.backends import Backend
from envs.config import EnvConfig
from srmt.config import ModelConfig, upgrade_saved
from train.presets import PRESETS
from train.sf_env import ENV_NAME

CONFIG_FILE = "srmt_config.json"
"""The saved training config inside an experiment directory."""

SECTIONS = ("run", "env", "model", "sf")
LINKED = {"obs_radius": ("env", "model"), "seed": ("env", "sf")}
"""Fields that are one setting across sections: any spelling sets all of them."""


class TrainConfigError(ValueError):
    """A training config that cannot run; the message lists every problem and its fix."""


@dataclass(frozen=True)
class RunConfig:
    """This project's own training options (sample-factory's are in the `sf` section)."""

    preset: str = "bottleneck"
    """training preset: bottleneck | lifelong (train/presets.py)"""
    backend: Backend = "pogema"
    """batched environment backend (envs/backends.py BACKENDS)"""
    device: str = "cpu"
    """cpu | cuda: where the learner and inference run"""
    experiment: str | None = None
    """experiment directory (config, checkpoints, summaries, log, policy.pt); default experiments/<preset>"""
    train_for_env_steps: int = 20_000_000
    """stop after this many env steps (one step of one agent counts 1, as in sample-factory)"""
    max_train_seconds: float = 0.0
    """wall-clock budget of this run in seconds (0: none); training stops and saves when it is spent"""
    envs_per_batch: int = 128
    """E: environments in one batched env object (E x num_agents rows)"""
    init_policy: str | None = None
    """policy file whose weights start a new experiment (e.g. from `srmt imitate`); train/warm_start.py"""

    @property
    def experiment_dir(self) -> Path:
        return Path(self.experiment or f"experiments/{self.preset}").expanduser().resolve()


@dataclass(frozen=True)
class TrainConfig:
    """Everything a training run needs; `to_dict` is what `srmt_config.json` holds."""

    run: RunConfig
    env: EnvConfig
    model: ModelConfig
    sf: dict[str, Any] = field(default_factory=dict)
    """sample-factory options by their own names (only the ones set by the preset or the user)"""

    def to_dict(self) -> dict[str, Any]:
        return {"run": dataclasses.asdict(self.run), "env": self.env.to_dict(),
                "model": self.model.to_dict(), "sf": dict(self.sf)}

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> "TrainConfig":
        unknown = set(values) - set(SECTIONS)
        if unknown:
            raise TrainConfigError(f"unknown config section(s) {sorted(unknown)}; known: {list(SECTIONS)}")
        return cls(run=_dataclass_from_dict(RunConfig, values.get("run", {})),
                   env=EnvConfig.from_dict(values.get("env", {})),
                   model=ModelConfig.from_dict(values.get("model", {})), sf=dict(values.get("sf", {})))


def _dataclass_from_dict(cls, values: dict[str, Any]):
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - names)
    if unknown:
        raise TrainConfigError(f"unknown {cls.__name__} field(s) {unknown}; known: {sorted(names)}")
    return cls(**values)


# ----------------------------------------------------------------- parsing
def parse_overrides(argv: list[str]) -> dict[str, str]:
    """`['--a', '1', '--b=x']` -> {'a': '1', 'b': 'x'} (dashes in keys become underscores)."""
    overrides: dict[str, str] = {}
    i = 0
    while i < len(argv):
        token = argv[i]
        if not token.startswith("--") or token == "--":
            raise TrainConfigError(f"expected an option --KEY VALUE, got {token!r} "
                                   f"(options: `srmt train --help`, docs/training.md)")
        key, eq, value = token[2:].partition("=")
        if not eq:
            if i + 1 >= len(argv) or argv[i + 1].startswith("--"):
                raise TrainConfigError(f"option --{key} needs a value: --{key} VALUE or --{key}=VALUE")
            value, i = argv[i + 1], i + 1
        key = key.replace("-", "_")
        if key in overrides:
            raise TrainConfigError(f"option --{key} is given twice ({overrides[key]!r} and {value!r}); give it once")
        overrides[key] = value
        i += 1
    return overrides


def _field_hints(section: str) -> dict[str, Any]:
    cls = {"run": RunConfig, "env": EnvConfig, "model": ModelConfig}[section]
    return typing.get_type_hints(cls)


def _convert(text: str, hint: Any) -> Any:
    """Parse a command-line string as a value of the type `hint`."""
    origin, args = get_origin(hint), get_args(hint)
    if origin in (typing.Union, types.UnionType):
        if type(None) in args and text.strip().lower() in ("none", "null"):
            return None
        errors = []
        for arg in (a for a in args if a is not type(None)):
            try:
                return _convert(text, arg)
            except ValueError as err:
                errors.append(str(err))
        raise ValueError("; ".join(errors))
    if origin is Literal or hint is str:
        return text
    if hint is bool:
        lowered = text.strip().lower()
        if lowered in ("true", "1", "yes", "on"):
            return True
        if lowered in ("false", "0", "no", "off"):
            return False
        raise ValueError(f"{text!r} is not a boolean (true/false)")
    if hint is int:
        number = float(text)
        if not number.is_integer():
            raise ValueError(f"{text!r} is not an integer")
        return int(number)
    if hint is float:
        return float(text)
    if origin in (tuple, list):
        value = json.loads(text)
        return tuple(tuple(v) if isinstance(v, list) else v for v in value)
    raise ValueError(f"cannot parse {text!r} as {hint}")


def model_field(item: str) -> tuple[str, Any]:
    """`FIELD=VALUE` (`srmt imitate --model`) as (ModelConfig field, value typed like `srmt train`'s
    overrides); ValueError naming the item and the fix."""
    name, sep, text = item.partition("=")
    hints = _field_hints("model")
    if not sep or name not in hints:
        raise ValueError(f"--model {item!r} is not FIELD=VALUE with a model field (e.g. --model hidden=64; "
                         f"fields: {', '.join(sorted(hints))})")
    try:
        return name, _convert(text, hints[name])
    except (ValueError, TypeError) as err:
        raise ValueError(f"--model {item!r}: {err}") from err


# ------------------------------------------------------------- sample-factory
@dataclass(frozen=True)
class _SFOption:
    convert: Any
    choices: tuple | None
    help: str
    default: Any


_SF_OPTIONS: dict[str, _SFOption] | None = None


@dataclass(frozen=True)
class Managed:
    """A sample-factory option that srmt train sets itself."""

    reason: str
    """why the user cannot set it, or the option to use instead"""
    value: Any = None
    """what srmt train passes: a constant or a function of the TrainConfig; None: not passed
    (sample-factory's default stays)"""

    def value_for(self, cfg: TrainConfig) -> Any:
        return self.value(cfg) if callable(self.value) else self.value


def _gpu_sampling(cfg: TrainConfig) -> bool:
    """With --device cuda and the torch backend the env steps on the GPU and observations, actions and
    rollout buffers stay there (one GPU, index 0); otherwise rollouts are sampled on the CPU."""
    return cfg.run.device == "cuda" and cfg.run.backend == "torch"


_GPU_SAMPLING = "set by --device and --backend (cuda + torch: the env steps on GPU 0)"
_OBS_AS_THEY_ARE = "observations are used as they are"

MANAGED_SF: dict[str, Managed] = {
    "env": Managed("the env name is fixed by srmt train", ENV_NAME),
    "experiment": Managed("use --experiment DIR", lambda cfg: cfg.run.experiment_dir.name),
    "train_dir": Managed("use --experiment DIR", lambda cfg: str(cfg.run.experiment_dir.parent)),
    "device": Managed("use --device cpu|cuda", lambda cfg: "gpu" if cfg.run.device == "cuda" else "cpu"),
    "actor_worker_gpus": Managed(_GPU_SAMPLING, lambda cfg: 0 if _gpu_sampling(cfg) else None),
    "env_gpu_observations": Managed(_GPU_SAMPLING, _gpu_sampling),
    "env_gpu_actions": Managed(_GPU_SAMPLING, _gpu_sampling),
    "train_for_env_steps": Managed("use --train_for_env_steps N", lambda cfg: cfg.run.train_for_env_steps),
    "train_for_seconds": Managed("it has no effect in sample-factory 2.1.1; use --max_train_seconds S"),
    "batched_sampling": Managed("always True: one env object is the whole E x A batch", True),
    "num_envs_per_worker": Managed("it equals sf.worker_num_splits (one batched env object per split); "
                                   "size the batch with --envs_per_batch",
                                   lambda cfg: sf_value(cfg, "worker_num_splits")),
    "use_rnn": Managed("always False: the SRMT state flows through rnn_states (docs/training.md)", False),
    "recurrence": Managed("always 1 (use_rnn=False: each sample is recomputed from its stored state)", 1),
    "restart_behavior": Managed("always resume: the same command continues the experiment", "resume"),
    "normalize_input": Managed("observations are used as they are (the exported policy has no normalizer)", False),
    "obs_subtract_mean": Managed(_OBS_AS_THEY_ARE, 0.0),
    "obs_scale": Managed(_OBS_AS_THEY_ARE, 1.0),
    "use_env_info_cache": Managed("always False (the cache is keyed by env name only)", False),
    "num_policies": Managed("one shared policy", 1),
    "with_pbt": Managed("no population-based training", False),
    "actor_critic_share_weights": Managed("the actor-critic is one SRMTPolicy"),
    "help": Managed("use `srmt train --help`"),
}
"""sample-factory options that srmt train sets itself: the reason, and the value train/run.py passes."""


def sf_parser():
    """sample-factory's own argument parser (all its options and defaults)."""
    from sample_factory.cfg.arguments import parse_sf_args

    parser, _ = parse_sf_args(["--env=srmt"])
    return parser


def sf_value(cfg: TrainConfig, name: str) -> Any:
    """A sample-factory option of the config (not a managed one): its own value or sample-factory's default."""
    return cfg.sf[name] if name in cfg.sf else sf_options()[name].default


def sf_options() -> dict[str, _SFOption]:
    """sample-factory option name -> converter, choices, help and default (cached)."""
    global _SF_OPTIONS
    if _SF_OPTIONS is None:
        options = {}
        parser = sf_parser()
        for action in parser._actions:
            if action.option_strings and action.dest not in MANAGED_SF:
                convert = action.type or (lambda v: v)
                options[action.dest] = _SFOption(convert, tuple(action.choices) if action.choices else None,
                                                 action.help or "", parser.get_default(action.dest))
        _SF_OPTIONS = options
    return _SF_OPTIONS


def _convert_sf(name: str, text: Any) -> Any:
    option = sf_options()[name]
    value = option.convert(text) if isinstance(text, str) else text
    if option.choices and value not in option.choices:
        raise ValueError(f"{value!r} is not one of {list(option.choices)}")
    return value


# ------------------------------------------------------------------- build
def _resolve_key(key: str) -> tuple[list[tuple[str, str]], str | None]:
    """Key -> [(section, field), ...] it sets, or ([], error message)."""
    section, dot, name = key.rpartition(".")
    fields = {s: set(_field_hints(s)) for s in ("run", "env", "model")}
    fields["sf"] = set(sf_options())
    if dot and section not in SECTIONS:
        return [], f"--{key}: unknown section {section!r}; sections: {', '.join(SECTIONS)}"
    if dot and section == "sf" and name in MANAGED_SF:
        return [], f"--{key} is set by srmt train: {MANAGED_SF[name].reason}"
    if name in LINKED and (not dot or section in LINKED[name]):
        return [(s, name) for s in LINKED[name]], None
    if dot:
        if name in fields[section]:
            return [(section, name)], None
        close = difflib.get_close_matches(name, fields[section], n=3)
        return [], f"--{key}: {section} has no field {name!r}" + (f"; did you mean {close}?" if close else "")
    owners = [s for s in SECTIONS if name in fields[s]]
    if len(owners) == 1:
        return [(owners[0], name)], None
    if len(owners) > 1:
        return [], f"--{key} is ambiguous: it is a field of {owners}; write " + \
            " or ".join(f"--{s}.{name}" for s in owners)
    if name in MANAGED_SF:
        return [], f"--{key} is set by srmt train: {MANAGED_SF[name].reason}"
    every = [n for s in SECTIONS for n in fields[s]]
    close = difflib.get_close_matches(name, every, n=3)
    hint = f"; did you mean {['--' + c for c in close]}?" if close else ""
    return [], f"unknown option --{key}{hint} (all options: docs/training.md)"


def preset_sections(preset: str) -> dict[str, dict[str, Any]]:
    """The run / env / model / sf sections of a preset (train/presets.py), model fields resolved."""
    table = PRESETS[preset]
    model = dict(table["model"])
    model_preset = model.pop("preset")
    return {
        "run": {**table["run"], "preset": preset},
        "env": dict(table["env"]),
        "model": ModelConfig.preset(model_preset, **model).to_dict(),
        "sf": dict(table["sf"]),
    }


def saved_config(experiment_dir: Path) -> dict[str, Any] | None:
    """The `srmt_config.json` of an experiment directory, or None."""
    path = Path(experiment_dir) / CONFIG_FILE
    if not path.is_file():
        return None
    try:
        record = json.loads(path.read_text())
        config = record["config"]
        # the model section as today's fields mean it (files without a version predate `memory`)
        config["model"] = upgrade_saved(config.get("model", {}), record.get("format_version", 1))
        return config
    except (OSError, ValueError, KeyError) as err:
        raise TrainConfigError(f"cannot read {path}: {err}; fix or remove it, or use another --experiment") from err


def build_config(argv: list[str]) -> tuple[TrainConfig, dict[str, Any] | None]:
    """The config of `srmt train ARGV` and the saved config it resumes (None: a fresh run).

    Raises:
        TrainConfigError: unknown or malformed options, unknown preset.
        ValueError: an invalid model config (ModelConfig's own message).
    """
    overrides = parse_overrides(argv)
    preset = overrides.pop("preset", None) or overrides.pop("run.preset", None)
    if preset is not None and preset not in PRESETS:
        raise TrainConfigError(f"unknown preset {preset!r}; choose one of {sorted(PRESETS)}")
    experiment = overrides.get("experiment") or overrides.get("run.experiment")
    probe = RunConfig(preset=preset or "bottleneck", experiment=experiment)
    saved = saved_config(probe.experiment_dir)
    if saved is not None:
        saved_preset = saved["run"]["preset"]
        if preset is not None and preset != saved_preset:
            raise TrainConfigError(
                f"experiment {probe.experiment_dir} was trained with --preset {saved_preset}, not {preset}; "
                "use another --experiment directory for a new run")
        sections = {s: dict(saved[s]) for s in SECTIONS}
    else:
        sections = preset_sections(preset or "bottleneck")
        sections["sf"].setdefault("seed", sections["env"].get("seed", 0))

    problems = []
    for key, text in overrides.items():
        targets, error = _resolve_key(key)
        if error:
            problems.append(error)
            continue
        for section, name in targets:
            try:
                value = _convert_sf(name, text) if section == "sf" else _convert(text, _field_hints(section)[name])
            except (ValueError, TypeError, argparse.ArgumentTypeError) as err:
                problems.append(f"--{key} {text!r}: {err}")
                break
            sections[section][name] = value
    if problems:
        raise TrainConfigError("invalid training options:\n  - " + "\n  - ".join(problems))
    _pick_map_source(sections["env"], {key.rpartition(".")[2] for key in overrides})
    return TrainConfig.from_dict(sections), saved


MAP_SOURCES = ("grid", "map_pattern", "map_name")
"""How an env names its maps, in the order EnvConfig reads them (the first one set wins)."""


def _pick_map_source(env: dict[str, Any], given: set[str]) -> None:
    """The map source the command line names replaces the preset's / saved one (a `--map_name` must not
    be shadowed by a preset's `map_pattern`); naming two is the user's own choice, read in EnvConfig's order."""
    named = [source for source in MAP_SOURCES if source in given]
    if named:
        for source in MAP_SOURCES:
            if source not in named:
                env[source] = None
