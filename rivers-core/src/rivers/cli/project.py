"""The project a command runs in: ``rivers.toml``, its storage and its defaults."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rivers.cli.console import Console
    from rivers.config import ProjectConfig
    from rivers.repository import CodeRepository
    from rivers.storage import Storage

__all__ = ["Project"]


class Project:
    """The project directory, its configuration and the storage opened for a command.

    :param directory: Where the search for ``rivers.toml`` and
        ``pyproject.toml`` starts (the working directory once the command runs).
    :param console: Where notes go.
    :param overrides: Settings given as flags, ``{section: {key: (value, flag)}}``
        (``--storage``, ``--storage-path``, ``--memory``); they win over the
        files and the environment.
    """

    def __init__(
        self,
        directory: Path,
        console: Console,
        overrides: dict[str, dict[str, tuple[Any, str]]] | None = None,
    ) -> None:
        self.directory = directory
        self.console = console
        self.overrides = overrides or {}
        self._config: ProjectConfig | None = None
        self._storage: Storage | None = None

    @property
    def config(self) -> ProjectConfig:
        """The project settings (read once; notices about published-package-only settings go to stderr)."""
        if self._config is None:
            from rivers.config import ProjectConfig

            self._config = ProjectConfig.load(self.directory, overrides=self.overrides)
            for notice in self._config.notices:
                self.console.error(f"note: {notice}")
        return self._config

    @property
    def storage_url(self) -> str:
        """The storage URL in use (flags, else ``RIVERS_STORAGE_*``, else the files, else the default)."""
        return self.config.absolute_storage_url()

    def storage_exists(self) -> bool:
        """False only for a SQLite file that was never created (nothing recorded yet)."""
        url = self.storage_url
        if not url.lower().startswith("sqlite:"):
            return True
        from rivers.plugins.builtin import sqlite_path

        path = sqlite_path(url)
        return path == ":memory:" or Path(path).exists()

    def storage(self) -> Storage:
        """The project storage, opened on first use and closed by :meth:`close`."""
        if self._storage is None:
            self._storage = self.config.make_storage()
        return self._storage

    def bind(self, repository: CodeRepository) -> Storage:
        """Apply the project to ``repository`` and resolve it against the project storage.

        The executor and IO handler of the settings become the repository's
        defaults when it has none and the settings configure one. A
        repository already resolved by its module keeps its own storage (a
        note says so).
        """
        config = self.config
        # built whenever configured, so that a bad section fails here exactly as in `rivers validate`
        executor = config.make_executor() if "executor" in config.configured else None
        io_handler = config.make_io_handler() if "io_handler" in config.configured else None
        if repository.is_resolved:
            self.console.error(
                "note: the repository was resolved when its module was imported; "
                "it keeps its own storage and defaults, rivers.toml and --storage do not apply"
            )
            return repository.storage
        if repository.default_executor is None and executor is not None:
            repository.default_executor = executor
        if repository.default_io_handler is None and io_handler is not None:
            repository.default_io_handler = io_handler
        storage = self.storage()
        repository.resolve(storage)
        return storage

    def close(self) -> None:
        """Close the storage if it was opened."""
        if self._storage is not None:
            self._storage.close()
            self._storage = None
