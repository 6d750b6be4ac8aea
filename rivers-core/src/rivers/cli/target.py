"""Finding the code location a command works on from its TARGET argument.

TARGET is a Python file (``pipeline.py``), a module (``my_pkg.pipeline``), or
either followed by ``:attribute``. The repository is the named attribute (a
``CodeRepository`` or a function without arguments returning one), else the
only ``CodeRepository`` among the module's globals, else a repository of
every asset defined in the module.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
import traceback
import types
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rivers.cli.errors import CliError, is_user_error

if TYPE_CHECKING:
    from rivers.repository import CodeRepository

__all__ = ["LoadedTarget", "is_file_target", "load_target", "parse_target"]


@dataclass(frozen=True)
class LoadedTarget:
    """A loaded code location: the repository and where it came from (``pipeline.py:repo``)."""

    repository: CodeRepository
    origin: str


def parse_target(target: str) -> tuple[str, str | None]:
    """Split ``module_or_file:attribute`` into its parts (the attribute may be absent).

    A single letter before ``:`` is a Windows drive, not a module.

    >>> parse_target("pipeline.py:repo")
    ('pipeline.py', 'repo')
    >>> parse_target("my_pkg.pipeline")
    ('my_pkg.pipeline', None)
    """
    location, separator, attribute = target.rpartition(":")
    if separator and len(location) > 1 and attribute.isidentifier():
        return location, attribute
    return target, None


def load_target(target: str) -> LoadedTarget:
    """Import TARGET and find its repository.

    :raises CliError: if the file or module cannot be found or imported, the
        attribute is missing or not a repository, the module defines several
        repositories, or no assets at all.
    """
    location, attribute = parse_target(target)
    module = _import_target(location)
    if attribute is not None:
        return LoadedTarget(_named_repository(module, location, attribute), f"{location}:{attribute}")
    return LoadedTarget(_module_repository(module, location), location)


# ---------------------------------------------------------------------------
# Importing
# ---------------------------------------------------------------------------


def is_file_target(location: str) -> bool:
    """Whether TARGET ``location`` names a file (``pipeline.py``, a path) rather than a module (``pkg.module``)."""
    return location.endswith(".py") or os.sep in location or "/" in location or os.path.isfile(location)


def _import_target(location: str) -> types.ModuleType:
    if is_file_target(location):
        return _import_file(Path(location))
    if not all(part.isidentifier() for part in location.split(".")):
        raise CliError(
            f"TARGET {location!r} is neither an existing Python file nor a module name "
            "(pass pipeline.py, my_pkg.pipeline or either with :attribute)"
        )
    _prepend_sys_path(os.getcwd())
    try:
        return importlib.import_module(location)
    except ModuleNotFoundError as error:
        if error.name is not None and (location == error.name or location.startswith(error.name + ".")):
            raise CliError(
                f"TARGET module {location!r} not found (looked in {os.getcwd()} and sys.path); "
                "pass a file path like pipeline.py or install the package"
            ) from error
        raise _import_failed(location, error) from error
    except Exception as error:
        raise _import_failed(location, error) from error


def _import_file(path: Path) -> types.ModuleType:
    path = path.resolve()
    if path.is_dir():
        raise CliError(f"TARGET {path} is a directory; pass a Python file (pipeline.py) or a module name")
    if not path.is_file():
        raise CliError(f"TARGET file not found: {path}")
    if path.suffix != ".py":
        raise CliError(f"TARGET {path} is not a Python file (expected a .py file)")
    name = path.stem if path.stem.isidentifier() and path.stem not in sys.modules else "__rivers_target__"
    _prepend_sys_path(str(path.parent))
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:  # pragma: no cover - .py files always have a loader
        raise CliError(f"cannot import {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as error:
        sys.modules.pop(name, None)
        raise _import_failed(str(path), error) from error
    return module


def _prepend_sys_path(directory: str) -> None:
    if directory not in sys.path:
        sys.path.insert(0, directory)


def _import_failed(location: str, error: Exception) -> Exception:
    """The error to report for an exception raised while importing user code.

    rivers' own errors (a malformed asset definition) propagate unchanged;
    anything else becomes a :class:`CliError` naming where user code raised.
    """
    if is_user_error(error):
        return error
    frames = [frame for frame in traceback.extract_tb(error.__traceback__) if not _is_import_machinery(frame.filename)]
    details: tuple[str, ...] = ()
    if frames:
        frame = frames[-1]
        details = (f"  at {frame.filename}:{frame.lineno} in {frame.name}",)
    elif isinstance(error, SyntaxError) and error.filename:
        details = (f"  at {error.filename}:{error.lineno}",)
    return CliError(f"cannot import TARGET {location!r}: {type(error).__name__}: {error}", details=details)


def _is_import_machinery(filename: str) -> bool:
    return filename.startswith("<frozen ") or os.path.dirname(filename) == os.path.dirname(__file__)


# ---------------------------------------------------------------------------
# Finding the repository
# ---------------------------------------------------------------------------


def _named_repository(module: types.ModuleType, location: str, attribute: str) -> CodeRepository:
    from rivers.repository import CodeRepository

    if not hasattr(module, attribute):
        found = _repositories(module)
        hint = f"; repositories defined there: {', '.join(found)}" if found else ""
        raise CliError(f"{location} has no attribute {attribute!r}{hint}")
    value: Any = getattr(module, attribute)
    if isinstance(value, types.FunctionType):
        value = value()
    if not isinstance(value, CodeRepository):
        raise CliError(
            f"{location}:{attribute} is a {type(value).__name__}; expected a CodeRepository "
            "or a function without arguments returning one"
        )
    return value


def _module_repository(module: types.ModuleType, location: str) -> CodeRepository:
    from rivers.loading import load_assets_from_modules
    from rivers.repository import CodeRepository

    found = _repositories(module)
    if len(found) > 1:
        choices = " or ".join(f"{location}:{name}" for name in found)
        raise CliError(f"{location} defines several CodeRepository objects ({', '.join(found)}); pass {choices}")
    if found:
        return getattr(module, found[0])
    assets = load_assets_from_modules([module])
    if not assets:
        raise CliError(f"{location} defines no assets and no CodeRepository")
    return CodeRepository(assets=assets)


def _repositories(module: types.ModuleType) -> list[str]:
    """The global names of the distinct ``CodeRepository`` objects of ``module`` (first name of each)."""
    from rivers.repository import CodeRepository

    names: dict[int, str] = {}
    for name, value in vars(module).items():
        if isinstance(value, CodeRepository) and not name.startswith("__"):
            names.setdefault(id(value), name)
    return list(names.values())
