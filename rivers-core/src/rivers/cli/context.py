"""What every command receives besides its arguments: the console, the project and the global flags."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING

from rivers.cli.console import Console
from rivers.cli.errors import CliError
from rivers.cli.project import Project

if TYPE_CHECKING:
    from rivers.cli.target import LoadedTarget

__all__ = ["CommandContext"]


@dataclass
class CommandContext:
    """The console to write to, the project to work in, and ``--repo-var`` (the published package's flag)."""

    console: Console
    project: Project
    repo_var: str | None = None

    def target_or_configured(self, target: str | None) -> str | None:
        """TARGET, else the ``[module]`` of the settings (``None`` when neither is given).

        ``--repo-var NAME`` (or ``[module] repo_var``) names the repository
        attribute when TARGET has none.
        """
        from rivers.cli.target import parse_target

        config = self.project.config
        if target is None:
            configured = config.module_target
            if configured is None:
                return None
            if config.root and config.root not in sys.path:
                sys.path.insert(0, config.root)  # the configured module lives next to the settings file
            location, _ = parse_target(configured)
            return f"{location}:{self.repo_var}" if self.repo_var else configured
        location, attribute = parse_target(target)
        if attribute is None and self.repo_var:
            return f"{location}:{self.repo_var}"
        return target

    def load(self, target: str | None) -> LoadedTarget:
        """Load the repository of TARGET (or of the configured ``[module]``).

        :raises CliError: when neither is given, or TARGET cannot be loaded.
        """
        from rivers.cli.target import load_target

        resolved = self.target_or_configured(target)
        if resolved is None:
            raise CliError(
                "no TARGET given and no module configured; pass TARGET (pipeline.py, my_pkg.pipeline[:repo]) "
                'or set [module] path = "my_pkg.repository" in rivers.toml'
            )
        return load_target(resolved)
