"""The project settings: which storage, executor and IO handler to use, and which module holds the repository.

Every section is optional; the whole file is too::

    [storage]
    url = "sqlite:///.rivers/rivers.db"   # the default; scheme picks the backend
    commit_delay = 0.05                   # other keys: settings for the backend
    # path = ".rivers/storage/"           # the published package's spelling: a directory for the database

    [executor]
    name = "in_process"                   # the default
    max_workers = 4                       # settings passed to the executor factory

    [io_handler]
    name = "memory"                       # the default
    # base_dir = "data"                   # settings passed to the handler class

    [module]                              # what `rivers materialize` runs without TARGET
    path = "my_pkg.repository"
    repo_var = "repo"

    [server]                              # host, port (grpc_port: published package only)
    [daemon]                              # no_daemon = false

The settings are read from ``rivers.toml`` and from the ``[tool.rivers.<section>]``
tables of ``pyproject.toml`` (both found by walking up from the working
directory), and from ``RIVERS_<SECTION>_<KEY>`` environment variables
(``RIVERS_STORAGE_URL``, ``RIVERS_EXECUTOR_MAX_WORKERS``,
``RIVERS_MODULE_PATH``); command-line flags win over the environment, which
wins over ``rivers.toml``, which wins over ``pyproject.toml``. Relative
storage paths written in a file are relative to that file's directory.
Settings that only mean something to the published package (its gRPC port
and SurrealDB endpoint) are accepted with a one-line notice
(:attr:`ProjectConfig.notices`).

Components are created through the plugin lookups of :mod:`rivers.plugins`,
so any installed plugin's names work here. Mistakes raise
:class:`~rivers.exceptions.ProjectConfigError` (or the plugin error) naming
where the value was given, the key and the fix; :meth:`ProjectConfig.check`
finds them all without opening the storage.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from rivers._record import Record, factory
from rivers.config_sources import CLI_RANK, CONFIG_FILENAME, ENV_RANK, FILE_RANKS, NotATable, Setting, Sources
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

#: Environment variable overriding ``[storage] url``.
STORAGE_URL_ENV = "RIVERS_STORAGE_URL"
#: SQLite under ``.rivers/`` of the project directory.
DEFAULT_STORAGE_URL = "sqlite:///.rivers/rivers.db"
DEFAULT_EXECUTOR = "in_process"
DEFAULT_IO_HANDLER = "memory"
#: The database file put in a ``[storage] path`` directory.
STORAGE_PATH_FILE = "rivers.db"

# component section -> (key selecting the component, its default); other keys are settings
_COMPONENTS: dict[str, tuple[str, str]] = {
    "storage": ("url", DEFAULT_STORAGE_URL),
    "executor": ("name", DEFAULT_EXECUTOR),
    "io_handler": ("name", DEFAULT_IO_HANDLER),
}
# the published package's settings: section -> key -> type
_PUBLISHED: dict[str, dict[str, type]] = {
    "module": {"path": str, "repo_var": str},
    "server": {"host": str, "port": int, "grpc_port": int},
    "daemon": {"no_daemon": bool},
    "synthetic": {"size": str},
}
_STORAGE_PUBLISHED: dict[str, type] = {"path": str, "endpoint": str}
_SECTIONS: dict[str, object] = {**_COMPONENTS, **_PUBLISHED}
# (section, key) -> why it is ignored
_ONLY_PUBLISHED = {
    ("server", "grpc_port"): "the gRPC port is used only by the published rivers package",
    ("storage", "endpoint"): "SurrealDB endpoints are used only by the published rivers package",
    ("synthetic", "size"): "synthetic graphs are a feature of the published rivers package's UI",
}

_T = TypeVar("_T")


class ProjectConfig(Record):
    """The settings of a project, from its files, the environment and flags, or the defaults.

    ``path`` is the ``rivers.toml`` read (``None`` when there is none),
    ``pyproject_path`` the ``pyproject.toml`` whose ``[tool.rivers]`` was
    read, ``root`` the project directory (where the nearest of the two is,
    else the start directory). ``storage_url_source`` says where the
    storage URL came from: a file, an environment variable, a flag or
    ``"default"``; ``origins`` says it for every key (``"executor.name"``).
    ``*_settings`` are the extra keys of each component section, passed as
    keyword arguments to the component. ``module_path`` and ``repo_var``
    name the repository ``rivers`` commands use when no TARGET is given.
    """

    path: Path | None = None
    storage_url: str = DEFAULT_STORAGE_URL
    storage_settings: dict[str, Any] = factory(dict)
    executor_name: str = DEFAULT_EXECUTOR
    executor_settings: dict[str, Any] = factory(dict)
    io_handler_name: str = DEFAULT_IO_HANDLER
    io_handler_settings: dict[str, Any] = factory(dict)
    storage_url_source: str = "default"
    pyproject_path: Path | None = None
    root: str | None = None
    module_path: str | None = None
    repo_var: str | None = None
    server_host: str = "127.0.0.1"
    server_port: int = 3000
    daemon_enabled: bool = True
    notices: tuple[str, ...] = ()
    origins: dict[str, str] = factory(dict)
    configured: frozenset[str] = frozenset()
    storage_base: str | None = None

    @classmethod
    def load(
        cls,
        directory: str | os.PathLike[str] | None = None,
        *,
        environ: Mapping[str, str] | None = None,
        overrides: Mapping[str, Mapping[str, tuple[object, str]]] | None = None,
    ) -> ProjectConfig:
        """Read the settings, looking for the files from ``directory`` (default: the working directory) upwards.

        :param environ: The environment (default: ``os.environ``).
        :param overrides: Command-line values, ``{section: {key: (value, flag)}}``;
            they win over everything else.
        :raises ProjectConfigError: if a file is not valid TOML, or has an
            unknown section or key or a value of the wrong type.
        """
        from rivers.config_sources import read_sources

        start = os.fspath(directory) if directory is not None else os.getcwd()
        cli = {
            section: {key: Setting(value, flag, CLI_RANK, None) for key, (value, flag) in values.items()}
            for section, values in (overrides or {}).items()
        }
        sources, files = read_sources(start, _SECTIONS, os.environ if environ is None else environ, cli)
        return _build(sources, files.rivers_toml, files.pyproject, files.root)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, path: Path | None = None) -> ProjectConfig:
        """Build a config from the parsed contents of a ``rivers.toml`` (no other source).

        :raises ProjectConfigError: on an unknown section or key, or a wrong type.
        """
        from rivers.config_sources import FILE_RANK

        where = str(path) if path is not None else CONFIG_FILENAME
        base = os.path.dirname(os.path.abspath(where)) if path is not None else None
        sources: Sources = {}
        for section, table in data.items():
            if not isinstance(table, Mapping):
                sources[section] = {"": Setting(NotATable(table), f"{where}: {section}", FILE_RANK, base)}
            else:
                sources[section] = {
                    key: Setting(value, f"{where} [{section}] {key}", FILE_RANK, base) for key, value in table.items()
                }
        return _build(sources, path, None, base)

    # ------------------------------------------------------------------
    # The repository to run
    # ------------------------------------------------------------------

    @property
    def module_target(self) -> str | None:
        """``module:repo_var`` from ``[module]`` (``None`` when no module is configured)."""
        if self.module_path is None:
            return None
        return f"{self.module_path}:{self.repo_var or 'repo'}"

    # ------------------------------------------------------------------
    # Builders, through the plugin lookups
    # ------------------------------------------------------------------

    def make_storage(self) -> Storage:
        """Open the configured storage (``rivers.plugins.connect_storage``)."""
        from rivers.plugins import connect_storage

        return self._build(self._where("storage"), connect_storage, self.absolute_storage_url(), self.storage_settings)

    def make_executor(self) -> Executor:
        """Create the configured executor (``rivers.plugins.create_executor``)."""
        from rivers.plugins import create_executor, get_plugin_manager

        location = self._where("executor")
        factory_ = get_plugin_manager().lookup("executor", self.executor_name) if self.executor_settings else None
        if factory_ is not None:
            _check_settings(factory_, self.executor_settings, f"{location} = {self.executor_name!r}", self.origins,
                            "executor")
        return self._build(location, create_executor, self.executor_name, self.executor_settings)

    def make_io_handler(self) -> BaseIOHandler:
        """Create the configured IO handler (``rivers.plugins.create_io_handler``)."""
        from rivers.plugins import create_io_handler

        return self._build(self._where("io_handler"), create_io_handler, self.io_handler_name, self.io_handler_settings)

    def check(self) -> None:
        """Check every setting as strictly as using them would, without opening the storage.

        The executor and IO handler are created (and dropped); the storage
        URL's scheme is looked up, a SQLite URL's form checked, and the
        storage settings checked against the backend's parameters.

        :raises ConfigurationError: (or a subclass) naming where the bad
            value was given and how to fix it.
        """
        self.make_executor()
        self.make_io_handler()
        self.check_storage()

    def check_storage(self) -> None:
        """Check the storage URL and settings without connecting (see :meth:`check`)."""
        from rivers.plugins import get_plugin_manager

        location = f"{self._where('storage')} = {self.storage_url!r}"
        scheme, separator, _ = self.storage_url.partition("://")
        try:
            if not separator or not scheme:
                raise ConfigurationError(
                    f"storage URL {self.storage_url!r} has no scheme; write it as scheme://..., "
                    "e.g. 'sqlite:///.rivers/rivers.db' or 'memory://'"
                )
            backend = get_plugin_manager().lookup("storage_backend", scheme.lower())
            if getattr(backend, "__module__", "") == "rivers.plugins.builtin":
                from rivers.plugins.builtin import sqlite_path

                if scheme.lower() == "sqlite":
                    sqlite_path(self.storage_url)
                backend = _builtin_storage_class(scheme.lower())
        except ConfigurationError as exc:
            raise type(exc)(f"{location}: {exc}") from exc
        # a class takes the settings as keywords; a backend factory takes the URL first
        skip = 0 if isinstance(backend, type) else 1
        _check_settings(backend, self.storage_settings, location, self.origins, "storage", skip=skip)

    def absolute_storage_url(self) -> str:
        """The storage URL, a relative SQLite path made absolute from the directory of the file that gave it."""
        url = self.storage_url
        prefix = "sqlite:///"
        if not url.startswith(prefix) or self.storage_base is None:
            return url
        path = url[len(prefix):]
        if not path or path == ":memory:" or os.path.isabs(path):
            return url
        return prefix + os.path.join(self.storage_base, path)

    def _where(self, section: str) -> str:
        key = _COMPONENTS[section][0]
        return self.origins.get(f"{section}.{key}") or f"{self.path or CONFIG_FILENAME} [{section}] {key}"

    @staticmethod
    def _build(location: str, factory: Callable[..., _T], selector: str, settings: dict[str, Any]) -> _T:
        """Call ``factory(selector, **settings)``, prefixing errors with their origin."""
        given = f"{location} {selector!r}" if location.startswith("--") else f"{location} = {selector!r}"
        try:
            return factory(selector, **settings)
        except ConfigurationError as exc:
            raise type(exc)(f"{given}: {exc}") from exc
        except (TypeError, ValueError) as exc:
            raise ProjectConfigError(
                f"{given}: invalid settings {sorted(settings)}: {exc}; "
                "fix or remove the other keys of that section"
            ) from exc


# ---------------------------------------------------------------------------
# Merging the sources into a config
# ---------------------------------------------------------------------------


def _build(sources: Sources, path: Path | None, pyproject: Path | None, root: str | None) -> ProjectConfig:
    _check_sections(sources)
    fields: dict[str, Any] = {"path": path, "pyproject_path": pyproject, "root": root}
    origins: dict[str, str] = {}
    notices: list[str] = []
    configured: set[str] = set()
    for section, values in sources.items():
        for key, setting in values.items():
            origins[f"{section}.{key}"] = setting.origin
            reason = _ONLY_PUBLISHED.get((section, key))
            if reason is not None:
                _typed(setting, str if key != "grpc_port" else int)
                notices.append(f"{setting.origin}: {reason}; ignored")
    storage = dict(sources.get("storage", {}))
    url, url_setting, base = _storage_location(storage, root)
    fields["storage_url"], fields["storage_base"] = url, base
    if url_setting is not None:
        configured.add("storage")
        origins["storage.url"] = url_setting.origin
        fields["storage_url_source"] = url_setting.origin.split(" [")[0]  # the file, variable or flag
    for section, (key, default) in _COMPONENTS.items():
        values = dict(sources.get(section, {}))
        selector = values.pop(key, None)
        if section == "storage":
            for published in _STORAGE_PUBLISHED:
                values.pop(published, None)
            settings = _storage_settings(values, url, url_setting, storage)
        else:
            settings = {name: _setting_value(setting) for name, setting in values.items()}
            if selector is not None:
                fields[f"{section}_{key}"] = _selector(selector, key, default)
        if selector is not None or values:
            configured.add(section)
        fields[f"{section}_settings"] = settings
    module = sources.get("module", {})
    if "path" in module:
        fields["module_path"] = _module_path(module["path"])
    if "repo_var" in module:
        fields["repo_var"] = _identifier(module["repo_var"])
    server = sources.get("server", {})
    if "host" in server:
        fields["server_host"] = _typed(server["host"], str)
    if "port" in server:
        fields["server_port"] = _typed(server["port"], int)
    daemon = sources.get("daemon", {})
    if "no_daemon" in daemon:
        fields["daemon_enabled"] = not _typed(daemon["no_daemon"], bool)
    fields.update(origins=origins, notices=tuple(notices), configured=frozenset(configured))
    return ProjectConfig(**fields)


def _close_match(word: str, choices: list[str]) -> str | None:
    """The choice closest to a misspelt ``word`` (difflib is imported only for such an error)."""
    import difflib

    matches = difflib.get_close_matches(word, choices, n=1)
    return matches[0] if matches else None


def _check_sections(sources: Sources) -> None:
    known = list(_SECTIONS)
    for section, values in sources.items():
        marker = values.get("")
        if marker is not None and isinstance(marker.value, NotATable):
            raise ProjectConfigError(_not_a_table(section, marker, known))
        if section not in _SECTIONS:
            origin = next(iter(values.values())).origin
            where = origin.split(" [")[0]
            match = _close_match(section, known)
            hint = f" Did you mean [{match}]?" if match else ""
            names = ", ".join(f"[{name}]" for name in known)
            raise ProjectConfigError(f"{where}: unknown section [{section}]; known sections: {names}.{hint}")
        allowed = _PUBLISHED.get(section)
        if allowed is None:
            continue
        for key, setting in values.items():
            if key not in allowed:
                match = _close_match(key, list(allowed))
                hint = f"; did you mean {match!r}?" if match else ""
                raise ProjectConfigError(
                    f"{setting.origin}: unknown key {key!r} of [{section}]{hint} (known keys: {', '.join(allowed)})"
                )


def _not_a_table(section: str, marker: Setting, known: list[str]) -> str:
    value = marker.value.value
    where = marker.origin.rpartition(": ")[0]
    names = ", ".join(f"[{name}]" for name in known)
    if section in _SECTIONS:
        return f"{where}: {section} must be a table written [{section}], got {_describe(value)}"
    return f"{where}: unexpected top-level key {section!r}; keys belong in a section ({names})"


def _storage_location(storage: dict[str, Setting], root: str | None) -> tuple[str, Setting | None, str | None]:
    """The storage URL (from ``url`` or ``path``, the higher-ranked), the setting that gave it, and its base dir."""
    url, path = storage.get("url"), storage.get("path")
    if url is not None and path is not None and url.rank == path.rank:
        raise ProjectConfigError(
            f"{url.origin} and {path.origin}: give one of them (path is the published package's "
            "spelling: a directory for the embedded database)"
        )
    winner = url if path is None or (url is not None and url.rank > path.rank) else path
    if winner is None:
        return DEFAULT_STORAGE_URL, None, root
    if winner is url:
        return _selector(winner, "url", DEFAULT_STORAGE_URL), winner, winner.base
    text = os.path.expanduser(_typed(winner, str).strip())
    if not text:
        raise ProjectConfigError(f'{winner.origin} must not be empty; e.g. path = ".rivers/storage/"')
    if not text.endswith((".db", ".sqlite", ".sqlite3")):
        text = os.path.join(text, STORAGE_PATH_FILE)
    return "sqlite:///" + text, winner, winner.base


def _storage_settings(values: dict[str, Setting], url: str, winner: Setting | None,
                      storage: dict[str, Setting]) -> dict[str, Any]:
    """The backend settings; those of a file are dropped when a higher source picks another backend."""
    file_locations = [storage[key] for key in ("url", "path") if key in storage and storage[key].rank in FILE_RANKS]
    file_url = max(file_locations, key=lambda s: s.rank) if file_locations else None
    file_scheme = _scheme(file_url.value) if file_url is not None and file_url is storage.get("url") else "sqlite"
    switched = winner is not None and winner.rank not in FILE_RANKS and _scheme(url) != file_scheme
    return {
        name: _setting_value(setting) for name, setting in values.items()
        if not (switched and setting.rank in FILE_RANKS)
    }


def _selector(setting: Setting, key: str, default: str) -> str:
    value = setting.value
    if not isinstance(value, str) or not value.strip():
        raise ProjectConfigError(
            f"{setting.origin} must be a non-empty string, got {_describe(value)}; e.g. {key} = \"{default}\""
        )
    return value.strip()


def _module_path(setting: Setting) -> str:
    text = _typed(setting, str).strip()
    location = text.rpartition(":")[0] if ":" in text else text
    if not text or not (location.endswith(".py") or all(part.isidentifier() for part in location.split("."))):
        raise ProjectConfigError(
            f"{setting.origin} = {setting.value!r}: expected a module name such as \"my_pkg.repository\" "
            "(or a file such as \"pipeline.py\")"
        )
    return text


def _identifier(setting: Setting) -> str:
    text = _typed(setting, str).strip()
    if not text.isidentifier():
        raise ProjectConfigError(f"{setting.origin} = {setting.value!r}: expected a Python name such as \"repo\"")
    return text


def _typed(setting: Setting, expected: type[_T]) -> _T:
    """The value of a published-package setting, checked (and converted from an environment variable's text)."""
    value = setting.value
    if setting.rank == ENV_RANK and isinstance(value, str) and expected is not str:
        value = _from_text(value, expected, setting)
    names = {str: "a string", int: "a whole number", bool: "true or false"}
    wrong = not isinstance(value, expected) or (expected is int and isinstance(value, bool))
    if wrong:
        example = {str: '"..."', int: "3000", bool: "false"}[expected]
        if setting.rank == ENV_RANK:
            hint = f"{setting.origin}={example.strip(chr(34))}"
        elif setting.rank == CLI_RANK:
            hint = f"{setting.origin} {example}"
        else:
            hint = f"{setting.origin.rsplit(' ', 1)[-1]} = {example}"
        raise ProjectConfigError(f"{setting.origin} must be {names[expected]}, got {_describe(value)}; e.g. {hint}")
    return value


def _from_text(text: str, expected: type, setting: Setting) -> bool | int | str:
    if expected is bool:
        lowered = text.lower()
        if lowered in ("1", "true", "yes", "on"):
            return True
        if lowered in ("0", "false", "no", "off"):
            return False
    elif expected is int:
        try:
            return int(text)
        except ValueError:
            pass
    return text


def _setting_value(setting: Setting) -> Any:
    if setting.rank == ENV_RANK and isinstance(setting.value, str):
        from rivers.config_sources import env_value

        return env_value(setting.value)
    return setting.value


# ---------------------------------------------------------------------------
# Checking component settings against the component's parameters
# ---------------------------------------------------------------------------


def _builtin_storage_class(scheme: str) -> type[Storage]:
    if scheme == "sqlite":
        from rivers.storage.sqlite import SqliteStorage

        return SqliteStorage
    from rivers.storage.memory import MemoryStorage

    return MemoryStorage


def _check_settings(target: Callable[..., object], settings: Mapping[str, Any], location: str,
                    origins: Mapping[str, str], section: str, *, skip: int = 0) -> None:
    """Refuse a setting ``target`` has no parameter for, or a value of a plainly wrong type.

    Targets taking ``**kwargs`` accept any key; annotations other than
    simple ``int``/``float``/``str``/``bool`` unions are not checked here
    (the component checks them when it is created).
    """
    import inspect

    try:
        signature = inspect.signature(target)
    except (TypeError, ValueError):
        return
    parameters = list(signature.parameters.values())[skip:]
    if isinstance(target, type):
        parameters = [p for p in parameters if p.name != "self"]
    named = {p.name: p for p in parameters if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}
    open_ended = any(p.kind == p.VAR_KEYWORD for p in parameters)
    for key, value in settings.items():
        where = origins.get(f"{section}.{key}", f"[{section}] {key}")
        parameter = named.get(key)
        if parameter is None:
            if open_ended:
                continue
            match = _close_match(key, list(named))
            hint = f"; did you mean {match!r}?" if match else ""
            known = ", ".join(named) or "none"
            raise ProjectConfigError(f"{where}: unknown setting {key!r} for {location}{hint} (settings: {known})")
        expected = _simple_types(parameter.annotation)
        if expected and not _matches(value, expected):
            raise ProjectConfigError(
                f"{where} = {value!r}: expected {' or '.join(sorted(expected))} for {location}; "
                f"e.g. {key} = {_example(expected)}"
            )


_SIMPLE = {"int", "float", "str", "bool", "None"}


def _simple_types(annotation: object) -> set[str]:
    text = annotation if isinstance(annotation, str) else getattr(annotation, "__name__", "")
    if not isinstance(text, str) or not text:
        return set()
    parts = {part.strip() for part in text.replace("Optional[", "").rstrip("]").split("|")}
    return parts if parts <= _SIMPLE else set()


def _matches(value: object, expected: set[str]) -> bool:
    if value is None:
        return "None" in expected
    if isinstance(value, bool):
        return "bool" in expected
    if isinstance(value, int):
        return bool({"int", "float"} & expected)
    if isinstance(value, float):
        return "float" in expected
    if isinstance(value, str):
        return "str" in expected
    return True


def _example(expected: set[str]) -> str:
    for name, example in (("float", "0.5"), ("int", "2"), ("bool", "true"), ("str", '"..."')):
        if name in expected:
            return example
    return "..."


def _scheme(url: object) -> str:
    return str(url).partition("://")[0].lower()


def _describe(value: object) -> str:
    return f"{type(value).__name__} {value!r}"
