"""No module uses another module's private members; the storage backend protocol is the one named exception.

A leading underscore means "this module's business": ``repository._state()``
from the CLI, ``asset._fn`` from the graph builder or ``from keys import
_quote`` couple a module to another one's internals, and they break
silently when those change. The test reads the source of rivers-core and of
the first-party plugins with :mod:`ast` and fails on

* ``something._name`` (also ``getattr(something, "_name")``) where
  ``something`` is not ``self``/``cls`` and ``_name`` is not defined in the
  module itself (a function, class, attribute assigned on ``self``, slot,
  ...): a member of another module's object;
* ``from module import _name`` of a private function, class or constant;
* importing a private *module* (``pkg._mod``) from outside the package ``pkg``.

Allowed, with the reason in :data:`ALLOWED`:

* the storage backend protocol: the underscore methods of
  :mod:`rivers.storage.contract` (``_append_events``, ``_kv_update``, ...)
  are what a backend implements. Only the storage layer itself, the storage
  conformance kits and storage backends call them; everyone else uses the
  public methods of :class:`rivers.Storage` (``append_events``, ...).
* documented public API of Python and of other projects that happens to
  start with an underscore (``namedtuple._replace``, ``os._exit``, ...).
"""

from __future__ import annotations

import ast
import pathlib

import pytest

import rivers
from rivers.storage import Storage
from rivers.storage.contract import CAPABILITY_PROTOCOLS

ROOT = pathlib.Path(rivers.__file__).resolve().parents[3]
SOURCES = {
    "rivers": pathlib.Path(rivers.__file__).parent,
    **{package: ROOT / distribution / "src" / package for distribution, package in (
        ("rivers-io-fs", "rivers_io_fs"), ("rivers-io-s3", "rivers_io_s3"),
        ("rivers-executor-k8s", "rivers_executor_k8s"), ("rivers-storage-postgres", "rivers_storage_postgres"),
        ("rivers-ui", "rivers_ui"),
    )},
    # the example plugins of the test tree are written as a third party would: public API only
    **{package: ROOT / "tests" / "plugins" / distribution / "src" / package for distribution, package in (
        ("rivers-example-plugin", "rivers_example_plugin"),
        ("rivers-threadpool-executor", "rivers_threadpool_executor"),
    )},
}

#: The backend protocol: underscore methods of the storage contract's capability protocols, and the
#: underscore methods rivers.Storage defines for backends to override (``_start_run``, ``_batch``,
#: ``_record_partition_progress``, ...).
STORAGE_HOOKS = frozenset(
    name for namespace in (*CAPABILITY_PROTOCOLS.values(), Storage) for name, value in vars(namespace).items()
    if name.startswith("_") and not name.startswith("__") and callable(value)
)
#: Modules that may call the backend protocol directly: the storage layer, its conformance kits, backends.
STORAGE_LAYER = ("rivers.storage", "rivers.testing.storage", "rivers.testing._storage_monitoring",
                 "rivers_storage_postgres")

#: ``name -> (modules it is allowed in ("" = everywhere), why)``.
ALLOWED: dict[str, tuple[tuple[str, ...], str]] = {
    "_replace": (("",), "namedtuple's documented API"),
    "_asdict": (("",), "namedtuple's documented API"),
    "_exit": (("rivers.execution.worker_pool",), "os._exit: a forked worker must leave without running atexit"),
    "_getframe": (("rivers.definitions.signature",), "sys._getframe: the caller's namespace for string annotations"),
    "_actions": (("rivers.cli.app",), "argparse keeps no public list of a parser's sub-parsers"),
    "_SubParsersAction": (("rivers.cli.app",), "argparse keeps no public list of a parser's sub-parsers"),
    "_store": (("rivers_io_s3.client",), "obstore's native module exposes its store classes only there"),
    "_migrate": (("rivers.cli.commands.storage",), "the backend factory's documented migration hook (docs/plugins.md)"),
}
#: Private modules of other projects that are imported on purpose: ``(importer, module) -> why``.
ALLOWED_MODULES: dict[tuple[str, str], str] = {
    ("rivers_io_s3.runtime", "obstore._obstore"): "a fresh copy of obstore's native module per forked process",
    ("rivers.runs.stopping", "_signal"): "CPython's C module under signal (same functions): importing signal builds "
                                         "its enums, 0.35 ms of every process's first run (falls back to signal)",
}


def _module_name(package: str, path: pathlib.Path) -> str:
    parts = [package, *path.relative_to(SOURCES[package]).with_suffix("").parts]
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def _own_names(tree: ast.AST) -> set[str]:
    """Names the module defines: functions, classes, arguments, assigned names and ``self.`` attributes, slots."""
    names = set()
    looked_up = {id(node.args[1]) for node in ast.walk(tree) if _is_attribute_lookup(node)}
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.arg):
            names.add(node.arg)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store) \
                and isinstance(node.value, ast.Name) and node.value.id in ("self", "cls"):
            names.add(node.attr)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and _private(node.value) \
                and id(node) not in looked_up:
            names.add(node.value)  # __slots__ entries, object.__setattr__(self, "_x", ...)
    return names


def _is_attribute_lookup(node: ast.AST) -> bool:
    """``getattr(x, "_name", ...)`` / ``hasattr(x, "_name")``."""
    return (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ("getattr", "hasattr")
            and len(node.args) >= 2 and isinstance(node.args[1], ast.Constant)
            and isinstance(node.args[1].value, str) and _private(node.args[1].value))


def _allowed(module: str, name: str) -> bool:
    if name in STORAGE_HOOKS and any(module == m or module.startswith(m + ".") for m in STORAGE_LAYER):
        return True
    where, _ = ALLOWED.get(name, ((), ""))
    return any(prefix == "" or module == prefix for prefix in where)


def private_uses(module: str, source: str) -> list[tuple[int, str]]:
    """``(line, text)`` of every use of another module's private member in ``source`` (allowed ones excluded)."""
    tree = ast.parse(source)
    own = _own_names(tree)
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join([*module.split(".")[: -node.level], *([base] if base else [])])
            for alias in node.names:
                target = f"{base}.{alias.name}"
                private_module = next((part for part in target.split(".") if _private(part)), None)
                if private_module is not None:
                    owner = target.split("." + private_module)[0]
                    if not (module == owner or module.startswith(owner + ".")):
                        found.append((node.lineno, f"from {base} import {alias.name}"))
                    elif _private(alias.name) and not _is_module(target):
                        found.append((node.lineno, f"from {base} import {alias.name}"))
        elif isinstance(node, ast.Import):
            for alias in node.names:
                parts = alias.name.split(".")
                for index, part in enumerate(parts):
                    owner = ".".join(parts[:index])
                    if _private(part) and not (module == owner or module.startswith(owner + ".")) \
                            and (module, alias.name) not in ALLOWED_MODULES:
                        found.append((node.lineno, f"import {alias.name}"))
                        break
        elif isinstance(node, ast.Attribute) and _private(node.attr):
            if isinstance(node.value, ast.Name) and node.value.id in ("self", "cls"):
                continue
            if node.attr not in own and not _allowed(module, node.attr):
                found.append((node.lineno, ast.unparse(node)))
        elif _is_attribute_lookup(node):
            name = node.args[1].value  # type: ignore[attr-defined]
            if name not in own and not _allowed(module, name):
                found.append((node.lineno, ast.unparse(node)))
    return found


def _is_module(dotted: str) -> bool:
    package, *rest = dotted.split(".")
    if package not in SOURCES:
        return False
    path = SOURCES[package].joinpath(*rest)
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def _sources() -> list[tuple[str, pathlib.Path]]:
    found = []
    for package, root in SOURCES.items():
        if root.is_dir():
            found += [(_module_name(package, path), path) for path in sorted(root.rglob("*.py"))]
    return found


def test_no_module_uses_another_modules_private_members():
    violations = [
        f"{module}:{line}: {text}"
        for module, path in _sources()
        for line, text in private_uses(module, path.read_text(encoding="utf-8"))
    ]
    assert not violations, (
        "private members used across modules (add a public, documented method or property instead; "
        f"storage code outside {STORAGE_LAYER} uses rivers.Storage's public methods):\n" + "\n".join(violations)
    )


def test_every_first_party_source_tree_is_scanned():
    assert len(_sources()) > 200
    assert all(root.is_dir() for root in SOURCES.values()), [str(r) for r in SOURCES.values() if not r.is_dir()]


@pytest.mark.parametrize(("module", "source", "expected"), [
    ("rivers.cli.x", "def f(repository):\n    return repository._state()\n", ["repository._state"]),
    ("rivers.cli.x", "from rivers.partitions.keys import _quote\n", ["from rivers.partitions.keys import _quote"]),
    ("rivers.cli.x", "import rivers.storage._sqlite_schema\n", ["import rivers.storage._sqlite_schema"]),
    ("rivers.cli.x", "def f(a):\n    return getattr(a, '_kind', None)\n", ["getattr(a, '_kind', None)"]),
    ("rivers.execution.x", "def f(storage, e):\n    storage._append_events(e)\n", ["storage._append_events"]),
    # allowed: the storage layer calls the backend protocol; own members; private modules of one's own package
    ("rivers.storage.x", "def f(storage, e):\n    storage._append_events(e)\n", []),
    ("rivers.cli.x", "class A:\n    def __init__(self):\n        self._x = 1\n    def same(self, other):\n"
                     "        return other._x\n", []),
    ("rivers.storage.sqlite", "from rivers.storage import _sqlite_pools\n", []),
    ("rivers.x", "def f(p):\n    return p._replace(a=1)\n", []),
])
def test_the_check_sees_what_it_should(module, source, expected):
    assert [text for _, text in private_uses(module, source)] == expected
