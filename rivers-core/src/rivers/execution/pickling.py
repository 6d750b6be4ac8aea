"""Pickling functions for other processes: by importable reference, else by value.

Functions travel as importable references ``(module, qualname)``; a function
whose module attribute is an ``rs.Asset``/``rs.Task``/hook wrapping it is
found through the wrapper. Functions that cannot be re-imported (lambdas,
closures, ``<locals>``) are pickled by value: their code object (marshal,
same Python version only), closure values, defaults and the name of the
module providing their globals. Functions of the controller's ``__main__``
always travel by value (a worker never runs the controller's script again).
Everything else is plain :mod:`pickle`.

This module knows nothing about steps; :mod:`rivers.execution.wire` defines
the messages that carry the pickled step definitions.
"""

from __future__ import annotations

import builtins
import importlib
import importlib.util
import io
import marshal
import os
import pickle
import sys
import threading
import types
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable
    from importlib.machinery import ModuleSpec

PROTOCOL = pickle.HIGHEST_PROTOCOL

_WRAPPER_ATTRIBUTES = ("_fn", "func", "__wrapped__", "fn")


def _walk(obj: object, qualname: str) -> object:
    for part in qualname.split("."):
        obj = getattr(obj, part)
    return obj


def _reference_of(fn: types.FunctionType) -> tuple[str, str, str | None] | None:
    """``(module, qualname, wrapper attribute)`` if ``fn`` can be re-imported, else None."""
    module_name = fn.__module__
    qualname = fn.__qualname__
    if not module_name or "<" in qualname:
        return None
    module = sys.modules.get(module_name)
    if module is None:
        return None
    try:
        found = _walk(module, qualname)
    except AttributeError:
        return None
    if found is fn:
        return module_name, qualname, None
    for attribute in _WRAPPER_ATTRIBUTES:
        if getattr(found, attribute, None) is fn:
            return module_name, qualname, attribute
    return None


_importable: dict[str, bool] = {}


def _importable_by_name(module_name: str) -> bool:
    """Whether a fresh process imports ``module_name`` by name alone (not ``__main__``, not loaded from a path)."""
    known = _importable.get(module_name)
    if known is None:
        module = sys.modules.get(module_name)
        spec = getattr(module, "__spec__", None)
        known = (
            module_name != "__main__"
            and spec is not None
            and spec.name == module_name
            and spec.loader is not None
            and _found_by_finders(module_name, spec)
        )
        _importable[module_name] = known
    return known


def _found_by_finders(module_name: str, spec: ModuleSpec) -> bool:
    """Whether sys.path finders locate the module where it was loaded from (not a file loaded by path)."""
    if spec.origin in ("built-in", "frozen") or "." in module_name:
        return True  # packages' submodules are found through their package
    try:
        found = importlib.util.find_spec(module_name)
    except (ImportError, ValueError):
        return False
    return found is not None and found.origin == spec.origin


def _module_file(module_name: str) -> str | None:
    module = sys.modules.get(module_name)
    path = getattr(module, "__file__", None)
    return os.path.abspath(path) if isinstance(path, str) else None


def _import_module(module_name: str, path: str | None) -> types.ModuleType:
    """Import ``module_name``; a module loaded from a file under a name no finder knows is loaded from ``path``.

    ``__main__`` is never loaded from its file: that would run the controller's script again.
    """
    if module_name == "__main__":
        path = None
    module = sys.modules.get(module_name)
    if module is not None and (path is None or _same_file(module, path)):
        return module
    if module is None:
        try:
            return importlib.import_module(module_name)
        except ImportError:
            importlib.invalidate_caches()  # the module may be newer than the finders' directory caches
            try:
                return importlib.import_module(module_name)
            except ImportError:
                if path is None:
                    raise
    return _load_file(module_name, path)


def _same_file(module: types.ModuleType, path: str) -> bool:
    own = getattr(module, "__file__", None)
    return own is None or os.path.abspath(own) == path


def _load_file(module_name: str, path: str | None) -> types.ModuleType:
    """Load ``path`` as a module (``__main__`` of the controller becomes ``__rivers_main__`` here)."""
    if path is None or not os.path.isfile(path):
        raise ImportError(f"cannot import module {module_name!r} (file {path!r} not found)", name=module_name)
    alias = "__rivers_main__" if module_name == "__main__" else module_name
    existing = sys.modules.get(alias)
    if existing is not None and _same_file(existing, path):
        return existing
    spec = importlib.util.spec_from_file_location(alias, path)
    if spec is None or spec.loader is None:  # pragma: no cover - .py files always have a loader
        raise ImportError(f"cannot import {path}", name=module_name)
    module = importlib.util.module_from_spec(spec)
    directory = os.path.dirname(path)
    if directory not in sys.path:
        sys.path.insert(0, directory)
    sys.modules[alias] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(alias, None)
        raise
    return module


def _load_function(module_name: str, qualname: str, attribute: str | None, path: str | None) -> object:
    """Re-import a function shipped by reference (see :func:`_reference_of`)."""
    module = _import_module(module_name, path)
    try:
        found = _walk(module, qualname)
    except AttributeError:
        if path is None or module_name == "__main__" or _same_file(module, path):
            raise
        found = _walk(_load_file(module_name, path), qualname)
    return getattr(found, attribute) if attribute else found


def _function_globals(module_name: str | None, path: str | None) -> dict[str, Any]:
    if module_name:
        try:
            return _import_module(module_name, path).__dict__
        except Exception:  # noqa: BLE001 - a self-contained lambda still works without its module
            pass
    return {"__builtins__": builtins, "__name__": module_name or "__rivers_by_value__"}


_EMPTY_CELL = "__rivers_empty_cell__"


def _make_function(code: bytes, module_name: str | None, path: str | None, name: str, qualname: str,
                   defaults: tuple[object, ...] | None, kwdefaults: dict[str, object] | None,
                   closure: tuple[object, ...] | None, attributes: dict[str, object],
                   own_globals: dict[str, object] | None = None) -> types.FunctionType:
    """Rebuild a function pickled by value (``own_globals``: its globals, when it has no importable module)."""
    cells = None
    if closure is not None:
        cells = tuple(types.CellType() if value == _EMPTY_CELL else types.CellType(value) for value in closure)
    if own_globals is not None:
        namespace = {"__builtins__": builtins, "__name__": module_name or "__rivers_by_value__", **own_globals}
    else:
        namespace = _function_globals(module_name, path)
    fn = types.FunctionType(marshal.loads(code), namespace, name, defaults, cells)
    if own_globals is not None:
        namespace.setdefault(name, fn)  # a recursive function finds itself
    fn.__qualname__ = qualname
    fn.__kwdefaults__ = kwdefaults
    fn.__module__ = module_name  # type: ignore[assignment]
    if attributes:
        fn.__dict__.update(attributes)
    return fn


class FunctionPickler(pickle.Pickler):
    """Pickles functions by importable reference, else by value."""

    def __init__(self, file: io.BytesIO) -> None:
        super().__init__(file, protocol=PROTOCOL)
        self._by_value: set[int] = set()
        #: True once a notebook/REPL function was sent by value: the bytes are only good for this run
        self.volatile = False

    def reducer_override(self, obj: Any) -> Any:
        if type(obj) is types.ModuleType:
            return importlib.import_module, (obj.__name__,)
        if type(obj) is not types.FunctionType or obj in _OWN_FUNCTIONS:
            return NotImplemented
        reference = _reference_of(obj)
        if obj.__module__ == "__main__":
            # workers never import the controller's __main__ (a script would run again there; a notebook
            # or REPL has no file, and a cell may redefine the function): it travels by value, with the
            # globals it uses
            by_value = self._by_value_reduction(obj, own_globals=True)
            if _interactive_main():
                self.volatile = True
            if by_value is not None:
                return by_value
            if reference is None:
                return self._by_value_reduction(obj, own_globals=False)
        if reference is not None:
            module_name, qualname, attribute = reference
            if attribute is None and _importable_by_name(module_name):
                return NotImplemented  # pickle's own by-reference save
            return _load_function, (module_name, qualname, attribute, _module_file(module_name))
        needs_globals = not obj.__module__ or sys.modules.get(obj.__module__) is None
        reduction = self._by_value_reduction(obj, own_globals=needs_globals)
        if reduction is None:
            raise pickle.PicklingError(f"function {obj.__qualname__!r} uses globals that cannot be pickled")
        return reduction

    def _by_value_reduction(self, obj: types.FunctionType, *,
                            own_globals: bool) -> tuple[Callable[..., types.FunctionType], tuple[object, ...]] | None:
        """Reduce ``obj`` to its code, closure and defaults (None if ``own_globals`` cannot be pickled)."""
        shipped_globals = None
        if own_globals:
            # send the globals the code uses (itself excluded: it is put back by name when rebuilt)
            shipped_globals = {k: v for k, v in _referenced_globals(obj).items() if v is not obj}
            depth = getattr(_prechecks, "depth", 0)
            if depth >= 8:  # functions shipping each other by value without end (mutual recursion)
                return None
            _prechecks.depth = depth + 1
            try:
                dumps(shipped_globals)
            except Exception:  # noqa: BLE001 - e.g. a connection object; the caller falls back
                return None
            finally:
                _prechecks.depth = depth
        if id(obj) in self._by_value:
            raise pickle.PicklingError(f"function {obj.__qualname__!r} refers to itself through its closure")
        self._by_value.add(id(obj))
        closure = None
        if obj.__closure__ is not None:
            values = []
            for cell in obj.__closure__:
                try:
                    values.append(cell.cell_contents)
                except ValueError:
                    values.append(_EMPTY_CELL)
            closure = tuple(values)
        module_name = obj.__module__
        return _make_function, (
            marshal.dumps(obj.__code__), module_name, _module_file(module_name) if module_name else None,
            obj.__name__, obj.__qualname__, obj.__defaults__, obj.__kwdefaults__, closure, dict(obj.__dict__),
            shipped_globals,
        )


_OWN_FUNCTIONS = (_load_function, _make_function)
_prechecks = threading.local()


def _interactive_main() -> bool:
    """Whether ``__main__`` is a notebook or REPL (no file a worker could load it from)."""
    main = sys.modules.get("__main__")
    path = getattr(main, "__file__", None)
    return main is not None and not (isinstance(path, str) and os.path.isfile(path))


def _referenced_globals(fn: types.FunctionType) -> dict[str, object]:
    """The globals ``fn``'s code (and the code nested in it) refers to."""
    names: set[str] = set()
    stack = [fn.__code__]
    while stack:
        code = stack.pop()
        names.update(code.co_names)
        stack.extend(const for const in code.co_consts if isinstance(const, types.CodeType))
    namespace = fn.__globals__
    return {name: namespace[name] for name in names if name in namespace and name != "__builtins__"}


def dumps(obj: object) -> bytes:
    """Pickle ``obj``, sending functions by reference where possible (see the module docs)."""
    buffer = io.BytesIO()
    FunctionPickler(buffer).dump(obj)
    return buffer.getvalue()


loads = pickle.loads


__all__ = ["FunctionPickler", "PROTOCOL", "dumps", "loads"]
