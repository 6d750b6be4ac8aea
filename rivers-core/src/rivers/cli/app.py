"""The ``rivers`` argument parser, the dispatch to commands, and error reporting."""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rivers.cli.commands import COMMANDS
from rivers.cli.console import Console
from rivers.cli.context import CommandContext
from rivers.cli.errors import (
    EXIT_BROKEN_PIPE,
    EXIT_FAILURE,
    EXIT_INTERRUPTED,
    EXIT_TERMINATED,
    EXIT_USAGE,
    CliError,
    Propagate,
    is_user_error,
)
from rivers.cli.project import Project

__all__ = ["build_parser", "run"]

_DESCRIPTION = "Materialise and inspect rivers assets, runs and plugins."
_EPILOG = (
    "TARGET is a Python file (pipeline.py), a module (my_pkg.pipeline) or either with :attribute "
    "naming a CodeRepository. The project directory holds rivers.toml and .rivers/. "
    "Exit codes: 0 ok, 1 failed run or invalid definitions, 2 usage or configuration error."
)


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors about a command's arguments print that command's usage."""

    def parse_args(self, args: Sequence[str] | None = None, namespace: Any = None) -> Any:  # type: ignore[override]
        parsed, extras = self.parse_known_args(args, namespace)
        if extras:
            command = _command_parsers(self).get(getattr(parsed, "command", None) or "", self)
            command.error(f"unrecognized arguments: {' '.join(extras)}")
        return parsed


def _command_parsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:  # argparse keeps no public list of its sub-parsers
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def build_parser() -> argparse.ArgumentParser:
    """The parser of ``rivers`` and its commands; global options work before or after the command."""
    from rivers._version import __version__

    parser = _Parser(prog="rivers", description=_DESCRIPTION, epilog=_EPILOG)
    _add_global_options(parser, suppress=False)
    parser.add_argument("--version", action="version", version=f"rivers {__version__}")
    common = argparse.ArgumentParser(add_help=False)
    _add_global_options(common, suppress=True)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for command in COMMANDS:
        command.add_parser(commands, [common])
    _add_plugin_commands(commands, [common])
    return parser


def _add_plugin_commands(commands: Any, parents: list[argparse.ArgumentParser]) -> None:
    """Add the plugins' sub-commands (``rivers_cli_commands``); one that cannot be added is left out, with a warning."""
    from rivers.plugins import cli_commands

    for name, provider in sorted(cli_commands().items()):
        if name in commands.choices:
            _warn(f"the command {name!r} of plugin {provider.label} is left out: rivers has a command of that name")
            continue
        try:
            provider.value(commands, parents)
        except Exception as error:  # noqa: BLE001 - a broken plugin must not break every other command
            commands.choices.pop(name, None)
            _warn(f"the command {name!r} of plugin {provider.label} is left out: its add_parser raised "
                  f"{type(error).__name__}: {error}")


def _warn(message: str) -> None:
    print(f"rivers: warning: {message}", file=sys.stderr)


def _add_global_options(parser: argparse.ArgumentParser, *, suppress: bool) -> None:
    """Add the global options; on commands, unset ones must not hide values given before the command."""

    def default(value: object) -> object:
        return argparse.SUPPRESS if suppress else value

    group = parser.add_argument_group("global options")
    group.add_argument(
        "--project-dir",
        metavar="DIR",
        default=default(None),
        help="run in DIR, where rivers.toml and .rivers/ live; relative paths, TARGET included, "
        "are relative to it (default: the working directory)",
    )
    group.add_argument(
        "--storage",
        metavar="URL",
        default=default(None),
        help="storage URL overriding rivers.toml and RIVERS_STORAGE_URL (e.g. sqlite:///other.db, memory://)",
    )
    group.add_argument(
        "--storage-path",
        metavar="PATH",
        default=default(None),
        help="embedded storage in PATH (a directory, or a .db file); the published package's spelling",
    )
    group.add_argument(
        "--memory", action="store_true", default=default(False), help="throwaway in-memory storage (memory://)"
    )
    group.add_argument(
        "--surreal-endpoint",
        metavar="URL",
        default=default(None),
        help="accepted for the published package's scripts and ignored (with a notice)",
    )
    group.add_argument(
        "--repo-var",
        metavar="NAME",
        default=default(None),
        help="the CodeRepository attribute of TARGET (same as TARGET:NAME)",
    )
    group.add_argument(
        "-q", "--quiet", action="store_true", default=default(False), help="print results and errors only"
    )
    group.add_argument(
        "--traceback",
        action="store_true",
        default=default(False),
        help="show the Python traceback of errors in definitions and configuration",
    )


def run(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv``, run the command, report errors; return the exit code."""
    args = build_parser().parse_args(argv)
    _tolerate_unencodable_output()
    console = Console(quiet=args.quiet)
    start_dir = os.getcwd()
    project: Project | None = None
    try:
        directory = _enter_project(args.project_dir)
        project = Project(directory, console, overrides=_storage_overrides(args))
        return int(args.handler(args, CommandContext(console, project, repo_var=args.repo_var)))
    except BrokenPipeError:
        _silence_stdout()  # the reader went away (``rivers runs | head``): stop quietly
        return EXIT_BROKEN_PIPE
    except Propagate as wrapper:
        raise wrapper.error from None
    except KeyboardInterrupt:
        console.error("interrupted")
        return EXIT_INTERRUPTED
    except SystemExit as stop:
        from rivers.runs import RunTerminated

        if not isinstance(stop, RunTerminated):
            raise
        console.error("terminated")
        return EXIT_TERMINATED
    except CliError as error:
        _report(console, error, args.traceback, prefix=str(error))
        return error.exit_code
    except Exception as error:
        if not is_user_error(error):
            console.error(f"error: unexpected {type(error).__name__}: {error}")
            console.error(traceback.format_exc().rstrip())
            return EXIT_FAILURE
        _report(console, error, args.traceback, prefix=f"{type(error).__name__}: {error}")
        return EXIT_USAGE
    finally:
        if project is not None:
            project.close()
        os.chdir(start_dir)


def _storage_overrides(args: argparse.Namespace) -> dict[str, dict[str, tuple[Any, str]]]:
    """The storage flags as settings: ``--storage URL``, ``--memory``, ``--storage-path PATH``."""
    given = [(flag, value) for flag, value in (("--storage", args.storage), ("--storage-path", args.storage_path),
                                               ("--memory", "memory://" if args.memory else None)) if value]
    if len(given) > 1:
        raise_usage = " and ".join(flag for flag, _ in given)
        raise CliError(f"{raise_usage}: give one storage option")
    storage: dict[str, tuple[Any, str]] = {}
    if given:
        flag, value = given[0]
        storage["path" if flag == "--storage-path" else "url"] = (value, flag)
    if args.surreal_endpoint:
        storage["endpoint"] = (args.surreal_endpoint, "--surreal-endpoint")
    return {"storage": storage} if storage else {}


def _silence_stdout() -> None:
    """Point stdout at /dev/null so that the interpreter's final flush does not fail again."""
    with contextlib.suppress(OSError, ValueError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())


def _enter_project(project_dir: str | None) -> Path:
    """Change into ``--project-dir`` (if given) and return the project directory."""
    if project_dir is None:
        return Path.cwd()
    directory = Path(project_dir).expanduser().resolve()
    if not directory.is_dir():
        raise CliError(f"--project-dir {project_dir}: not a directory ({directory})")
    os.chdir(directory)
    return directory


def _report(console: Console, error: BaseException, show_traceback: bool, *, prefix: str) -> None:
    """Print ``error: <prefix>``, its detail lines and, when asked, its traceback."""
    console.error(f"error: {prefix}")
    for line in getattr(error, "details", ()):
        console.error(line)
    if show_traceback:
        console.error("".join(traceback.format_exception(error)).rstrip())


def _tolerate_unencodable_output() -> None:
    """Never crash on a character the terminal's encoding lacks: write an escape instead."""
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            with contextlib.suppress(ValueError, OSError):  # detached or closed streams
                reconfigure(errors="backslashreplace")
