"""The project a command runs in: ``rivers.toml``, its storage and its defaults."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from rivers.cli.errors import CliError

if TYPE_CHECKING:
    from rivers.cli.console import Console
    from rivers.config import ProjectConfig
    from rivers.repository import CodeRepository
    from rivers.storage import Storage

__all__ = ["Project"]


class Project:
    """The project directory, its configuration and the storage opened for a command.

    :param directory: Where ``rivers.toml`` and ``.rivers/`` live (the
        working directory once the command runs).
    :param console: Where notes go.
    :param storage_url: The ``--storage`` override, if any.
    """

    def __init__(self, directory: Path, console: Console, storage_url: str | None = None) -> None:
        self.directory = directory
        self.console = console
        self.storage_url_override = storage_url
        self._config: ProjectConfig | None = None
        self._storage: Storage | None = None

    @property
    def config(self) -> ProjectConfig:
        """``rivers.toml`` of the project (read once; defaults without the file)."""
        if self._config is None:
            from rivers.config import ProjectConfig

            self._config = ProjectConfig.load(self.directory)
        return self._config

    @property
    def storage_url(self) -> str:
        """``--storage``, else ``RIVERS_STORAGE_URL``, else ``[storage] url``, else the default."""
        return self.storage_url_override or self.config.storage_url

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
            self._storage = self._open_storage()
        return self._storage

    def _open_storage(self) -> Storage:
        override = self.storage_url_override
        if override is None:
            return self.config.make_storage()
        from rivers.config import CONFIG_FILENAME
        from rivers.exceptions import ConfigurationError
        from rivers.plugins import connect_storage

        config = self.config
        same_scheme = _scheme(override) == _scheme(config.storage_url)
        settings: dict[str, Any] = config.storage_settings if same_scheme else {}
        try:
            return connect_storage(override, **settings)
        except ConfigurationError as error:
            raise type(error)(f"--storage {override!r}: {error}") from error
        except TypeError as error:
            where = config.path or CONFIG_FILENAME
            raise CliError(f"--storage {override!r}: invalid [storage] settings of {where}: {error}") from error

    def bind(self, repository: CodeRepository) -> Storage:
        """Apply the project to ``repository`` and resolve it against the project storage.

        The executor and IO handler of ``rivers.toml`` become the
        repository's defaults when it has none and the file configures one.
        A repository already resolved by its module keeps its own storage
        (a note says so).
        """
        config = self.config
        if repository._resolved is not None:
            self.console.error(
                "note: the repository was resolved when its module was imported; "
                "it keeps its own storage and defaults, rivers.toml and --storage do not apply"
            )
            return repository.storage
        if repository.default_executor is None and _configures(config, "executor"):
            repository.default_executor = config.make_executor()
        if repository._default_io_handler is None and _configures(config, "io_handler"):
            repository._default_io_handler = config.make_io_handler()
        storage = self.storage()
        repository.resolve(storage)
        return storage

    def close(self) -> None:
        """Close the storage if it was opened."""
        if self._storage is not None:
            self._storage.close()
            self._storage = None


def _configures(config: ProjectConfig, section: str) -> bool:
    """Whether ``[section]`` (``executor`` or ``io_handler``) asks for something other than core's default.

    ``ProjectConfig`` does not record which sections the file had; a section
    naming the default without settings behaves exactly like no section.
    """
    from rivers.config import DEFAULT_EXECUTOR, DEFAULT_IO_HANDLER

    name, settings, default = {
        "executor": (config.executor_name, config.executor_settings, DEFAULT_EXECUTOR),
        "io_handler": (config.io_handler_name, config.io_handler_settings, DEFAULT_IO_HANDLER),
    }[section]
    return name != default or bool(settings)


def _scheme(url: str) -> str:
    return url.partition("://")[0].lower()
