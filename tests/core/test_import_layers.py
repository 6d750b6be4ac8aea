"""rivers-core is laid out in layers; a module imports only from its own layer or the ones below.

Every module of the ``rivers`` package is placed in exactly one layer by
:data:`LAYERS` below (the longest matching prefix wins). The test reads the
source with :mod:`ast` and looks at *every* import: module level, inside
functions (lazy imports) and under ``if TYPE_CHECKING:`` (a type is a
dependency too). It fails when

* a module is in no layer (place new modules in the map),
* a module imports a module of a higher layer, or
* the modules of one layer import each other in a cycle.

The layers, lowest first (README "Code layout" says what belongs where):

kernel
    exceptions, the record base, ids, settings, the registry port, lazy exports, the cache directory
model
    metadata values, partitions, asset selection
contracts
    storage records and protocols (``Storage``), the IO handler base, the
    execution contexts, resources, the events observers receive
definitions
    assets, tasks, hooks, retry policies, compute requests
graph
    the asset graph built from the definitions
execution
    plans, the step scheduler, launchers, executors, runs
builtins
    core's own implementations of the pluggable contracts: the memory and
    SQLite storage backends, the memory and pickle IO handlers
plugins
    the hook specifications and the plugin registry (``rivers.plugins``)
application
    the code repository, jobs, backfills, configuration, automation
interfaces
    the ``rivers`` facade, the command line, the worker, the testing kits

A lower layer that needs something only a higher layer has gets it passed in
or registered (dependency inversion), e.g. the plugin registry through the
kernel's :mod:`rivers._registry` port; it never imports upwards.
"""

from __future__ import annotations

import ast
import pathlib

import rivers

LAYERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("kernel", ("rivers.exceptions", "rivers._record", "rivers._ids", "rivers._settings", "rivers._version",
                "rivers._registry", "rivers.lazy", "rivers._cache")),
    ("model", ("rivers.metadata", "rivers.partitions", "rivers.selection")),
    ("contracts", ("rivers.storage", "rivers.io_handlers.base", "rivers.context", "rivers.resources",
                   "rivers.plugins.events")),
    ("definitions", ("rivers.definitions",)),
    ("graph", ("rivers.graph",)),
    ("execution", ("rivers.execution", "rivers.runs")),
    ("builtins", ("rivers.storage.memory", "rivers.storage.sqlite", "rivers.storage._sqlite_control",
                  "rivers.storage._sqlite_migrations", "rivers.storage._sqlite_monitor", "rivers.storage._sqlite_pools",
                  "rivers.storage._sqlite_progress", "rivers.storage._sqlite_schema", "rivers.storage._sqlite_template",
                  "rivers.storage.write_behind",
                  "rivers.io_handlers")),
    ("plugins", ("rivers.plugins", "rivers.hookspecs")),
    ("application", ("rivers.repository", "rivers.repository_state", "rivers.jobs", "rivers.loading",
                     "rivers.config", "rivers.config_sources", "rivers.backfills", "rivers.automation")),
    ("interfaces", ("rivers", "rivers.cli", "rivers.worker", "rivers.testing", "rivers._core")),
)

LAYER_NAMES = [name for name, _ in LAYERS]
SOURCE = pathlib.Path(rivers.__file__).parent


def layer_of(module: str) -> int | None:
    """The index of ``module``'s layer (longest matching prefix), None when the map does not place it."""
    best: tuple[int, int] | None = None
    for index, (_, prefixes) in enumerate(LAYERS):
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and (best is None or len(prefix) > best[1]):
                best = (index, len(prefix))
    return None if best is None else best[0]


def _modules() -> dict[str, pathlib.Path]:
    found = {}
    for path in sorted(SOURCE.rglob("*.py")):
        parts = list(path.relative_to(SOURCE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


MODULES = _modules()


def _imported(module: str, path: pathlib.Path) -> list[tuple[str, int]]:
    """``(imported rivers module, line)`` for every import statement anywhere in ``module``'s source."""
    is_package = path.name == "__init__.py"
    package = module.split(".") if is_package else module.split(".")[:-1]
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = ".".join(package[: len(package) - node.level + 1]) if node.level else ""
            prefix = ".".join(part for part in (base, node.module or "") if part)
            # ``from rivers.storage import memory`` imports a submodule; ``from rivers import Asset`` the package
            targets = [f"{prefix}.{alias.name}" if f"{prefix}.{alias.name}" in MODULES else prefix
                       for alias in node.names]
        else:
            continue
        for target in targets:
            if target != "rivers" and not target.startswith("rivers."):
                continue
            while target not in MODULES and "." in target:
                target = target.rsplit(".", 1)[0]
            if target != module:
                found.append((target, node.lineno))
    return found


IMPORTS = {module: _imported(module, path) for module, path in MODULES.items()}


def test_every_module_is_placed_in_a_layer():
    unplaced = sorted(module for module in MODULES if layer_of(module) is None)
    assert not unplaced, f"modules in no layer (add them to LAYERS in {__name__}): {unplaced}"


def test_no_module_imports_from_a_higher_layer():
    violations = []
    for module, imports in IMPORTS.items():
        own = layer_of(module)
        for target, line in imports:
            theirs = layer_of(target)
            if own is not None and theirs is not None and theirs > own:
                violations.append(f"{MODULES[module].relative_to(SOURCE.parent)}:{line}: {module} "
                                  f"({LAYER_NAMES[own]}) imports {target} ({LAYER_NAMES[theirs]})")
    assert not violations, "imports from a higher layer:\n" + "\n".join(sorted(violations))


def _cycles_within_layers() -> list[list[str]]:
    """Strongly connected components (Tarjan) of the import graph restricted to edges inside one layer."""
    graph = {module: sorted({target for target, _ in IMPORTS[module]
                             if layer_of(target) == layer_of(module)
                             # a package's __init__ and its own submodules belong together
                             and not target.startswith(module + ".") and not module.startswith(target + ".")})
             for module in MODULES}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components = []

    def visit(start: str) -> None:
        work = [(start, iter(graph[start]))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, edges = work[-1]
            for target in edges:
                if target not in index:
                    index[target] = low[target] = len(index)
                    stack.append(target)
                    on_stack.add(target)
                    work.append((target, iter(graph[target])))
                    break
                if target in on_stack:
                    low[node] = min(low[node], index[target])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    if len(component) > 1:
                        components.append(sorted(component))

    for module in MODULES:
        if module not in index:
            visit(module)
    return components


def test_the_modules_of_a_layer_import_each_other_without_cycles():
    cycles = _cycles_within_layers()
    assert not cycles, "import cycles inside a layer:\n" + "\n".join(
        f"{LAYER_NAMES[layer_of(cycle[0])]}: " + ", ".join(cycle) for cycle in cycles)



def test_the_checks_see_lazy_and_type_checking_imports(tmp_path):
    # the checks are only as good as the import finder: it must see imports inside functions and TYPE_CHECKING
    source = tmp_path / "probe.py"
    source.write_text(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n"
        "    from rivers.repository import CodeRepository\n"
        "def f():\n"
        "    from ..plugins import manager\n"
        "    import rivers.cli.app\n"
    )
    found = dict(_imported("rivers.storage.probe", source))
    assert found == {"rivers.repository": 3, "rivers.plugins.manager": 5, "rivers.cli.app": 6}
    assert layer_of("rivers.storage.probe") == LAYER_NAMES.index("contracts")
    assert layer_of("rivers.storage.sqlite") == LAYER_NAMES.index("builtins")
    assert layer_of("rivers") == LAYER_NAMES.index("interfaces")
