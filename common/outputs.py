"""Output paths: the check that a path takes what a command writes there (every command checks its
outputs with `check_output` before any work starts)."""
from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable


def unwritable(directory: Path) -> str | None:
    """Create `directory` if needed and write a probe file there; None when that works, else why not."""
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        return str(err.strerror or err)
    return _probe(directory)


def _probe(directory: Path) -> str | None:
    """Write and remove a probe file in an existing `directory`; None when that works, else why not."""
    try:
        with tempfile.NamedTemporaryFile(dir=directory, prefix=".write-probe-"):
            pass
    except OSError as err:
        return str(err.strerror or err)
    return None


class OutputPathError(ValueError):
    """An output path that cannot take what the command would write there; the message names the fix."""


@dataclass(frozen=True)
class OutputKind:
    """What a command writes at an output path: a directory, or a file of one of `suffixes`.

    An existing file is overwritten only when it has one of the suffixes and `recognises` (when given)
    accepts its content; anything else there is refused rather than replaced.
    """

    name: str
    suffixes: tuple[str, ...] = ()
    recognises: Callable[[Path], bool] | None = None
    directory: bool = False
    stem: str = "out"
    """file name without suffix, for the example in messages"""

    def example(self, directory: Path) -> Path:
        """A file path of this kind inside `directory`, for messages.

        >>> PNG.example(Path("runs"))
        PosixPath('runs/out.png')
        """
        return directory / f"{self.stem}{self.suffixes[0] if self.suffixes else ''}"


DIRECTORY = OutputKind("directory", directory=True)
PNG = OutputKind("PNG picture", (".png",))
JSON = OutputKind("JSON file", (".json",))

_NAME_MAX, _PATH_MAX = 255, 4096
"""Limits where the file system does not say (os.pathconf)."""


def output_problem(path: str | os.PathLike, kind: OutputKind) -> str | None:
    """Why `path` cannot take a `kind` output (with the fix), or None. Creates and changes nothing."""
    path = Path(path).expanduser().absolute()
    ancestor = next(p for p in (path, *path.parents) if _exists(p))
    if ancestor == path:
        return _existing_problem(path, kind)
    if not ancestor.is_dir():
        return f"{ancestor} is a file, so nothing can be created under it; pass a path in a directory"
    long = _too_long(path, ancestor)
    if long:
        return long
    problem = _probe(ancestor)
    return f"{ancestor} is not writable ({problem}); pass a path in a directory you can write" if problem else None


def _exists(path: Path) -> bool:
    """Whether something (a link included) is at `path`; False also for a name too long to look up."""
    try:
        os.lstat(path)
    except OSError:
        return False
    return True


def _existing_problem(path: Path, kind: OutputKind) -> str | None:
    if kind.directory:
        if not path.is_dir():
            return "it exists and is not a directory; pass a new or existing directory"
        problem = _probe(path)
        return f"the directory is not writable ({problem}); pass a directory you can write" if problem else None
    if path.is_dir():
        return f"it is a directory; pass a file path, e.g. {kind.example(path)}"
    if not path.is_file():
        return f"it exists and is not a regular file; pass the path of a new {kind.name}"
    if path.suffix.lower() not in kind.suffixes or (kind.recognises is not None and not kind.recognises(path)):
        return (f"it exists and is not a {kind.name}, so it is not overwritten; pass a new file name "
                "(or move the file away first)")
    if not os.access(path, os.W_OK):
        return "the file is not writable; pass a path you can write"
    return None


def _too_long(path: Path, ancestor: Path) -> str | None:
    """A message when a name in `path` (below its existing `ancestor`) or the whole path is too long."""
    try:
        name_max, path_max = os.pathconf(ancestor, "PC_NAME_MAX"), os.pathconf(ancestor, "PC_PATH_MAX")
    except (OSError, ValueError):
        name_max, path_max = _NAME_MAX, _PATH_MAX
    for part in path.relative_to(ancestor).parts:
        if len(os.fsencode(part)) > name_max:
            return (f"the name {part[:24]}... is {len(os.fsencode(part))} bytes long, more than the {name_max} "
                    "this file system allows; pass a shorter name")
    if len(os.fsencode(str(path))) >= path_max:
        return f"the path is longer than the {path_max} bytes this system allows; pass a shorter path"
    return None


def check_output(path: str | os.PathLike, option: str, kind: OutputKind) -> Path:
    """`path` as an absolute path when it can take a `kind` output; else OutputPathError naming `option`,
    the path, the problem and the fix. Creates and changes nothing (the command creates what it writes)."""
    problem = output_problem(path, kind)
    if problem:
        raise OutputPathError(f"{option} {path}: {problem}")
    return Path(path).expanduser().absolute()
