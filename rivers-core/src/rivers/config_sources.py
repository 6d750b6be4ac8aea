"""Where project settings come from: ``rivers.toml``, ``pyproject.toml``, ``RIVERS_*`` variables, CLI flags.

Each source yields :class:`Setting` values by section and key; the one with
the highest ``rank`` wins (CLI flags, then the environment, then
``rivers.toml``, then ``[tool.rivers.*]`` of ``pyproject.toml``). Both files
are found by walking up from the start directory, as the published package
does. :mod:`rivers.config` turns the merged settings into a
:class:`~rivers.config.ProjectConfig`.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

from rivers.exceptions import ProjectConfigError

if TYPE_CHECKING:
    from pathlib import Path

__all__ = [
    "CLI_RANK",
    "ENV_RANK",
    "FILE_RANKS",
    "CONFIG_FILENAME",
    "ENV_PREFIX",
    "PYPROJECT_FILENAME",
    "Setting",
    "Sources",
    "NotATable",
    "env_value",
    "find_upwards",
    "read_sources",
]

#: The project file, looked up from the working directory upwards.
CONFIG_FILENAME = "rivers.toml"
#: Holds ``[tool.rivers.<section>]`` tables (the published package's other place for settings).
PYPROJECT_FILENAME = "pyproject.toml"
#: ``RIVERS_<SECTION>_<KEY>`` environment variables set settings (``RIVERS_STORAGE_URL``).
ENV_PREFIX = "RIVERS_"

PYPROJECT_RANK, FILE_RANK, ENV_RANK, CLI_RANK = 1, 2, 3, 4
#: Settings given in a file rank below this.
FILE_RANKS = (PYPROJECT_RANK, FILE_RANK)


class Setting:
    """One value, where it was given (for messages), its precedence, and the directory relative paths start at.

    (Plain classes rather than named tuples here: those compile code when
    defined, which every process reading its settings would pay.)
    """

    __slots__ = ("value", "origin", "rank", "base")

    def __init__(self, value: Any, origin: str, rank: int, base: str | None = None) -> None:
        self.value, self.origin, self.rank, self.base = value, origin, rank, base

    def __repr__(self) -> str:
        return f"Setting({self.value!r}, {self.origin!r}, rank={self.rank})"


#: section -> key -> the winning setting
Sources = dict[str, dict[str, Setting]]


class FoundFiles:
    """The ``rivers.toml`` found, the ``pyproject.toml`` whose ``[tool.rivers]`` was read, and the project root."""

    __slots__ = ("rivers_toml", "pyproject", "root")

    def __init__(self, rivers_toml: Path | None, pyproject: Path | None, root: str) -> None:
        self.rivers_toml, self.pyproject, self.root = rivers_toml, pyproject, root


def find_upwards(filename: str, start: str) -> str | None:
    """The nearest ``filename`` in ``start`` or one of its parents, or ``None``."""
    return _find_both(start, (filename,))[0]


def _find_both(start: str, filenames: tuple[str, ...]) -> list[str | None]:
    """The nearest of each of ``filenames`` from ``start`` upwards (one walk for all)."""
    found: list[str | None] = [None] * len(filenames)
    directory = os.path.abspath(start)
    while True:
        for index, filename in enumerate(filenames):
            if found[index] is None:
                candidate = os.path.join(directory, filename)
                if os.path.isfile(candidate):
                    found[index] = candidate
        parent = os.path.dirname(directory)
        if parent == directory or all(found):
            return found
        directory = parent


def read_sources(
    start: str,
    sections: Mapping[str, object],
    environ: Mapping[str, str],
    overrides: Mapping[str, Mapping[str, Setting]] | None = None,
) -> tuple[Sources, FoundFiles]:
    """Read every source from ``start`` and merge them, the highest rank winning per key.

    :param sections: The known section names (environment variables of
        other names, such as ``RIVERS_CLAIM_TIMEOUT``, are not settings).
    :raises ProjectConfigError: on invalid TOML or a file that cannot be read.
    """
    merged: Sources = {}
    rivers_toml, pyproject = _find_both(start, (CONFIG_FILENAME, PYPROJECT_FILENAME))
    tool_table: dict[str, Any] | None = None
    if pyproject is not None:
        tool_table = _tool_rivers(pyproject)
        if tool_table is not None:
            _merge(merged, _file_settings(tool_table, pyproject, "tool.rivers.", PYPROJECT_RANK))
    if rivers_toml is not None:
        _merge(merged, _file_settings(_read_toml(rivers_toml), rivers_toml, "", FILE_RANK))
    _merge(merged, _env_settings(environ, sections))
    for section, values in (overrides or {}).items():
        _merge(merged, {section: dict(values)})
    roots = [os.path.dirname(path) for path in (rivers_toml, pyproject if tool_table is not None else None) if path]
    root = max(roots, key=len) if roots else os.path.abspath(start)  # the nearest of the two
    used_pyproject = pyproject if tool_table is not None else None
    if rivers_toml is None and used_pyproject is None:  # pathlib (and what it imports) only once a file is read
        return merged, FoundFiles(None, None, root)
    from pathlib import Path

    files = FoundFiles(Path(rivers_toml) if rivers_toml else None, Path(used_pyproject) if used_pyproject else None,
                       root)
    return merged, files


def _merge(into: Sources, layer: Mapping[str, Mapping[str, Setting]]) -> None:
    for section, values in layer.items():
        target = into.setdefault(section, {})
        for key, setting in values.items():
            if key not in target or setting.rank >= target[key].rank:
                target[key] = setting


# ---------------------------------------------------------------------------
# Files
# ---------------------------------------------------------------------------


def _read_toml(path: str) -> dict[str, Any]:
    import tomllib

    try:
        with open(path, "rb") as file:
            return tomllib.load(file)
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ProjectConfigError(f"{path}: invalid TOML ({exc}); fix the syntax at that position") from exc
    except OSError as exc:
        raise ProjectConfigError(f"{path}: cannot be read ({exc})") from exc


def _tool_rivers(path: str) -> dict[str, Any] | None:
    """The ``[tool.rivers]`` table of a ``pyproject.toml`` (``None`` without one; tomllib only if it may have one)."""
    try:
        with open(path, "rb") as file:
            raw = file.read()
    except OSError:
        return None
    # parsed only when it may hold the table: most projects' pyproject.toml (even one naming rivers as a
    # dependency) has none, and tomllib costs milliseconds to import and parse
    if b"tool.rivers" not in raw and not (b"[tool]" in raw and b"rivers" in raw):
        return None
    data = _read_toml(path)
    tool = data.get("tool")
    table = tool.get("rivers") if isinstance(tool, Mapping) else None
    if table is None:
        return None
    if not isinstance(table, Mapping):
        raise ProjectConfigError(f"{path}: tool.rivers must be a table ([tool.rivers.<section>]), got {table!r}")
    return dict(table)


class NotATable:
    """A top-level value where a section table was expected (kept for the checks of :mod:`rivers.config`)."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value


def _file_settings(data: Mapping[str, Any], path: str, prefix: str, rank: int) -> dict[str, dict[str, Setting]]:
    """Settings of one file; a section that is not a table is kept as a single marker for the checks."""
    base = os.path.dirname(os.path.abspath(path))
    layer: dict[str, dict[str, Setting]] = {}
    for section, table in data.items():
        if not isinstance(table, Mapping):
            layer[section] = {"": Setting(NotATable(table), f"{path}: {prefix}{section}", rank, base)}
            continue
        layer[section] = {
            key: Setting(value, f"{path} [{prefix}{section}] {key}", rank, base) for key, value in table.items()
        }
    return layer


# ---------------------------------------------------------------------------
# Environment
# ---------------------------------------------------------------------------


def _env_settings(environ: Mapping[str, str], sections: Mapping[str, object]) -> dict[str, dict[str, Setting]]:
    """``RIVERS_<SECTION>_<KEY>`` variables (non-empty) of the known sections; the longest section name wins."""
    layer: dict[str, dict[str, Setting]] = {}
    by_length = sorted(sections, key=len, reverse=True)
    for name, text in _rivers_variables(environ):
        rest = name[len(ENV_PREFIX):].lower()
        for section in by_length:
            if rest.startswith(section + "_") and len(rest) > len(section) + 1:
                key = rest[len(section) + 1:]
                layer.setdefault(section, {})[key] = Setting(text, name, ENV_RANK, None)
                break
    return layer


def _rivers_variables(environ: Mapping[str, str]) -> Iterator[tuple[str, str]]:
    """The non-empty ``RIVERS_*`` variables; only their values are read."""
    for name in environ:  # names only: reading every value of os.environ costs a decode each
        if name.startswith(ENV_PREFIX):
            text = environ[name].strip()
            if text:
                yield name.upper(), text


def env_value(text: str) -> Any:
    """A variable's text read as a TOML value when it is one (``2``, ``0.5``, ``true``), else as text."""
    lowered = text.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    for convert in (int, float):
        try:
            return convert(text)
        except ValueError:
            pass
    return text
