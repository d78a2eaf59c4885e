"""The command line over a base config: `srmt train ARGV` -> a TrainConfig, every problem reported at once.

Override scheme (docs/training.md):

    srmt train --preset bottleneck --reward sparse --env.num_agents 2 --hidden 32 --sf.batch_size 2048

- `--KEY VALUE` or `--KEY=VALUE`; dashes and underscores in KEY are the same.
- KEY is `SECTION.FIELD` with SECTION one of run, env, model, sf, or a bare
  FIELD when only one section has it (`--hidden` = `--model.hidden`).
  `obs_radius` (env and model) and `seed` (env and sf) are one setting each:
  any spelling sets both sections.
- Values are parsed by the field's type (`parse_value`); sample-factory's
  options by its own parser's converters and choices.
- Unknown keys, keys of several sections, malformed values and options that
  `srmt train` manages itself are errors naming the fix, like nanoGPT's
  configurator; every problem is reported at once.

The base is the preset (train/presets.py) or, when the experiment directory
already holds one, the saved config (train/saved_config.py), so the same
command continues the same run.
"""
from __future__ import annotations

import argparse
import difflib
import json
import types
import typing
from typing import Any, Literal, get_args, get_origin

from envs.config import MAP_SOURCES
from train.config import LINKED, SECTIONS, RunConfig, TrainConfig, TrainConfigError, field_hints
from train.managed import MANAGED_SF, settable_sf_options
from train.presets import TRAINING_PRESETS, preset_sections
from train.saved_config import saved_config


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


def parse_value(text: str, hint: Any) -> Any:
    """Parse a command-line string as a value of the type `hint`."""
    origin, args = get_origin(hint), get_args(hint)
    if origin in (typing.Union, types.UnionType):
        if type(None) in args and text.strip().lower() in ("none", "null"):
            return None
        errors = []
        for arg in (a for a in args if a is not type(None)):
            try:
                return parse_value(text, arg)
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


def _parse_sf_value(name: str, text: Any) -> Any:
    option = settable_sf_options()[name]
    value = option.convert(text) if isinstance(text, str) else text
    if option.choices and value not in option.choices:
        raise ValueError(f"{value!r} is not one of {list(option.choices)}")
    return value


def model_field(item: str) -> tuple[str, Any]:
    """`FIELD=VALUE` (`srmt imitate --model`) as (ModelConfig field, value typed like `srmt train`'s
    overrides); ValueError naming the item and the fix."""
    name, sep, text = item.partition("=")
    hints = field_hints("model")
    if not sep or name not in hints:
        raise ValueError(f"--model {item!r} is not FIELD=VALUE with a model field (e.g. --model hidden=64; "
                         f"fields: {', '.join(sorted(hints))})")
    try:
        return name, parse_value(text, hints[name])
    except (ValueError, TypeError) as err:
        raise ValueError(f"--model {item!r}: {err}") from err


def resolve_key(key: str) -> tuple[list[tuple[str, str]], str | None]:
    """Key -> [(section, field), ...] it sets, or ([], error message)."""
    section, dot, name = key.rpartition(".")
    fields = {s: set(field_hints(s)) for s in ("run", "env", "model")}
    fields["sf"] = set(settable_sf_options())
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
    if name in ("intent_loss", "intent_moves"):  # train/imitation.py ImitationConfig; docs/model.md, "Intent loss"
        return [], f"--{key} is an `srmt imitate` option: the intent loss learns the expert's moves; APPO has none"
    every = [n for s in SECTIONS for n in fields[s]]
    close = difflib.get_close_matches(name, every, n=3)
    hint = f"; did you mean {['--' + c for c in close]}?" if close else ""
    return [], f"unknown option --{key}{hint} (all options: docs/training.md)"


def build_config(argv: list[str]) -> tuple[TrainConfig, dict[str, Any] | None]:
    """The config of `srmt train ARGV` and the saved config it resumes (None: a fresh run).

    Raises:
        TrainConfigError: unknown or malformed options, unknown preset.
        ValueError: an invalid model config (ModelConfig's own message).
    """
    overrides = parse_overrides(argv)
    preset = overrides.pop("preset", None) or overrides.pop("run.preset", None)
    if preset is not None and preset not in TRAINING_PRESETS:
        raise TrainConfigError(f"unknown preset {preset!r}; choose one of {sorted(TRAINING_PRESETS)}")
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
        targets, error = resolve_key(key)
        if error:
            problems.append(error)
            continue
        for section, name in targets:
            try:
                value = _parse_sf_value(name, text) if section == "sf" else parse_value(text, field_hints(section)[name])
            except (ValueError, TypeError, argparse.ArgumentTypeError) as err:
                problems.append(f"--{key} {text!r}: {err}")
                break
            sections[section][name] = value
    if problems:
        raise TrainConfigError("invalid training options:\n  - " + "\n  - ".join(problems))
    _pick_map_source(sections["env"], {key.rpartition(".")[2] for key in overrides})
    return TrainConfig.from_dict(sections), saved


def _pick_map_source(env: dict[str, Any], given: set[str]) -> None:
    """The map source the command line names replaces the preset's / saved one (a `--map_name` must not
    be shadowed by a preset's `map_pattern`); naming two is the user's own choice, read in EnvConfig's
    order (envs/config.py MAP_SOURCES)."""
    named = [source for source in MAP_SOURCES if source in given]
    if named:
        for source in MAP_SOURCES:
            if source not in named:
                env[source] = None
