"""What every command receives besides its arguments: the console and the project."""

from __future__ import annotations

from dataclasses import dataclass

from rivers.cli.console import Console
from rivers.cli.project import Project

__all__ = ["CommandContext"]


@dataclass
class CommandContext:
    """The console to write to and the project to work in."""

    console: Console
    project: Project
