"""The project file ``rivers.toml``: which storage, executor and IO handler to use.

Every section is optional; the whole file is too::

    [storage]
    url = "sqlite:///.rivers/rivers.db"   # the default; scheme picks the backend
    timeout = 5                           # other keys: settings for the backend

    [executor]
    name = "in_process"                   # the default
    max_workers = 4                       # settings passed to the executor factory

    [io_handler]
    name = "memory"                       # the default
    # root = "data"                       # settings passed to the handler class

The environment variable ``RIVERS_STORAGE_URL`` overrides ``[storage] url``
(the other ``[storage]`` keys are kept only when the scheme is the same).
Components are created through the plugin lookups of :mod:`rivers.plugins`,
so any installed plugin's names work here. Mistakes raise
:class:`~rivers.exceptions.ProjectConfigError` naming the file, the key and
the fix.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from rivers._record import Record, factory

from rivers.exceptions import ConfigurationError, ProjectConfigError

if TYPE_CHECKING:
    from pathlib import Path

    from rivers.execution.executors import Executor
    from rivers.io_handlers.base import BaseIOHandler
    from rivers.storage import Storage

__all__ = [
    "CONFIG_FILENAME",
    "DEFAULT_EXECUTOR",
    "DEFAULT_IO_HANDLER",
    "DEFAULT_STORAGE_URL",
    "STORAGE_URL_ENV",
    "ProjectConfig",
]

#: The project file looked up in the working directory.
CONFIG_FILENAME = "rivers.toml"
#: Environment variable overriding ``[storage] url``.
STORAGE_URL_ENV = "RIVERS_STORAGE_URL"
#: SQLite under ``.rivers/`` of the working directory.
DEFAULT_STORAGE_URL = "sqlite:///.rivers/rivers.db"
DEFAULT_EXECUTOR = "in_process"
DEFAULT_IO_HANDLER = "memory"

# section -> (key selecting the component, its default); other keys are settings
_SECTIONS: dict[str, tuple[str, str]] = {
    "storage": ("url", DEFAULT_STORAGE_URL),
    "executor": ("name", DEFAULT_EXECUTOR),
    "io_handler": ("name", DEFAULT_IO_HANDLER),
}

_T = TypeVar("_T")


class ProjectConfig(Record):
    """The settings of a project, from ``rivers.toml`` or the defaults.

    ``path`` is the file read (``None`` when there is none);
    ``storage_url_source`` says where the storage URL came from: the file,
    ``RIVERS_STORAGE_URL`` or ``"default"``. ``*_settings`` are the extra
    keys of each section, passed as keyword arguments to the component.
    """

    path: Path | None = None
    storage_url: str = DEFAULT_STORAGE_URL
    storage_settings: dict[str, Any] = factory(dict)
    executor_name: str = DEFAULT_EXECUTOR
    executor_settings: dict[str, Any] = factory(dict)
    io_handler_name: str = DEFAULT_IO_HANDLER
    io_handler_settings: dict[str, Any] = factory(dict)
    storage_url_source: str = "default"

    @classmethod
    def load(cls, directory: str | os.PathLike[str] | None = None) -> ProjectConfig:
        """Read ``rivers.toml`` from ``directory`` (default: the working directory).

        A missing file means all defaults. ``RIVERS_STORAGE_URL``, when set
        and non-empty, overrides the storage URL; the other keys of
        ``[storage]`` are kept only if it has the same scheme (they are
        settings of that backend).

        :raises ProjectConfigError: if the file is not valid TOML or has an
            unknown section or a value of the wrong type.
        """
        location = os.path.join(os.fspath(directory) if directory is not None else os.getcwd(), CONFIG_FILENAME)
        data: dict[str, Any] = {}
        path = None
        if os.path.isfile(location):  # pathlib and tomllib are imported only when there is a file
            import tomllib
            from pathlib import Path

            path = Path(location)

            try:
                with path.open("rb") as file:
                    data = tomllib.load(file)
            except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
                raise ProjectConfigError(f"{path}: invalid TOML ({exc}); fix the syntax at that position") from exc
            except OSError as exc:
                raise ProjectConfigError(f"{path}: cannot be read ({exc})") from exc
        config = cls.from_dict(data, path=path)
        override = os.environ.get(STORAGE_URL_ENV, "").strip()
        if override:
            settings = config.storage_settings if _scheme(override) == _scheme(config.storage_url) else {}
            config = config.evolve(
                storage_url=override, storage_settings=settings, storage_url_source=STORAGE_URL_ENV
            )
        return config

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, path: Path | None = None) -> ProjectConfig:
        """Build a config from the parsed contents of a ``rivers.toml``.

        :raises ProjectConfigError: on an unknown section or a wrong type.
        """
        where = str(path) if path is not None else CONFIG_FILENAME
        for section, value in data.items():
            if section not in _SECTIONS:
                raise ProjectConfigError(_unknown_section(where, section, value))
            if not isinstance(value, Mapping):
                raise ProjectConfigError(
                    f"{where}: {section} must be a table written [{section}], got {_describe(value)}"
                )
        fields: dict[str, Any] = {"path": path}
        for section, (key, default) in _SECTIONS.items():
            table = dict(data.get(section, {}))
            selector = table.pop(key, default)
            if not isinstance(selector, str) or not selector.strip():
                raise ProjectConfigError(
                    f"{where}: [{section}] {key} must be a non-empty string, got {_describe(selector)}; "
                    f'e.g. {key} = "{default}"'
                )
            fields[f"{section}_{key}"] = selector.strip()
            fields[f"{section}_settings"] = table
        if "storage" in data and "url" in data["storage"]:
            fields["storage_url_source"] = where
        return cls(**fields)

    # ------------------------------------------------------------------
    # Builders, through the plugin lookups
    # ------------------------------------------------------------------

    def make_storage(self) -> Storage:
        """Open the configured storage (``rivers.plugins.connect_storage``)."""
        from rivers.plugins import connect_storage

        location = STORAGE_URL_ENV if self.storage_url_source == STORAGE_URL_ENV else self._where("storage", "url")
        return self._build(location, connect_storage, self.storage_url, self.storage_settings)

    def make_executor(self) -> Executor:
        """Create the configured executor (``rivers.plugins.create_executor``)."""
        from rivers.plugins import create_executor

        return self._build(self._where("executor", "name"), create_executor, self.executor_name, self.executor_settings)

    def make_io_handler(self) -> BaseIOHandler:
        """Create the configured IO handler (``rivers.plugins.create_io_handler``)."""
        from rivers.plugins import create_io_handler

        return self._build(
            self._where("io_handler", "name"), create_io_handler, self.io_handler_name, self.io_handler_settings
        )

    def _where(self, section: str, key: str) -> str:
        return f"{self.path or CONFIG_FILENAME} [{section}] {key}"

    @staticmethod
    def _build(location: str, factory: Callable[..., _T], selector: str, settings: dict[str, Any]) -> _T:
        """Call ``factory(selector, **settings)``, prefixing errors with their origin."""
        try:
            return factory(selector, **settings)
        except ConfigurationError as exc:
            raise type(exc)(f"{location} = {selector!r}: {exc}") from exc
        except TypeError as exc:
            raise ProjectConfigError(
                f"{location} = {selector!r}: invalid settings {sorted(settings)}: {exc}; "
                "fix or remove the other keys of that section"
            ) from exc


def _unknown_section(where: str, section: str, value: object) -> str:
    known = ", ".join(f"[{name}]" for name in _SECTIONS)
    if not isinstance(value, Mapping):
        return f"{where}: unexpected top-level key {section!r}; keys belong in a section ({known})"
    import difflib

    matches = difflib.get_close_matches(section, _SECTIONS, n=1)
    hint = f" Did you mean [{matches[0]}]?" if matches else ""
    return f"{where}: unknown section [{section}]; known sections: {known}.{hint}"


def _scheme(url: str) -> str:
    return url.partition("://")[0].lower()


def _describe(value: object) -> str:
    return f"{type(value).__name__} {value!r}"
