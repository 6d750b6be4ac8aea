"""obstore's native module for this process, fork-safe.

obstore runs its requests on a tokio runtime that lives in its native module
and starts on first use. tokio does not survive ``fork``: in a child forked
after the parent used obstore, the runtime's threads are gone and every
request hangs forever. rivers forks its worker processes when it can, and
users fork too, so this module hands out the native module to use here:

* the installed ``obstore._obstore`` in a process that did not inherit it
  (spawn, forkserver, or a fork before obstore was imported);
* in a child forked after obstore was loaded, a fresh copy of that native
  library, loaded from a private copy of its file: new statics, hence a new
  runtime (about 25 ms, once per such process). The copy's classes are not
  the installed module's; the handler and store only ever use one module per
  process and classify the copy's errors by their built-in bases and text.

Importing this module is cheap (no obstore): the plugin imports it in every
rivers process so that the fork hook is in place before any fork.
"""

from __future__ import annotations

import os
import sys
import threading
from types import ModuleType

__all__ = ["native", "process_token"]

_NATIVE_NAME = "obstore._obstore"
_lock = threading.Lock()
_native: ModuleType | None = None
_inherited = False  # obstore was loaded by an ancestor process before it forked this one
_token = object()  # replaced in every forked child: clients built under another token are not usable here


def process_token() -> object:
    """An object that changes in a forked child: cheaper than ``os.getpid()`` (a system call) per request."""
    return _token


def _after_fork_in_child() -> None:
    global _native, _inherited, _lock, _token
    _token = object()
    _lock = threading.Lock()  # the parent's may have been held by a thread that does not exist here
    if _native is not None or _NATIVE_NAME in sys.modules:
        _inherited = True
        _native = None


os.register_at_fork(after_in_child=_after_fork_in_child)


def _fresh_copy(original_file: str) -> ModuleType:
    """Load a private copy of obstore's native library (its own statics and runtime)."""
    import importlib.util
    import shutil
    import tempfile

    directory = tempfile.mkdtemp(prefix="rivers-obstore-")
    path = os.path.join(directory, os.path.basename(original_file))
    try:
        shutil.copyfile(original_file, path)
        spec = importlib.util.spec_from_file_location(_NATIVE_NAME, path)
        if spec is None or spec.loader is None:
            raise ImportError(f"cannot load a copy of {original_file}")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module
    finally:
        shutil.rmtree(directory, ignore_errors=True)  # the loaded library stays mapped


def native() -> ModuleType:
    """obstore's native module usable in this process (``put``, ``get``, ``_store.S3Store``, ...)."""
    module = _native
    if module is None:
        with _lock:
            module = _load()
    return module


def _load() -> ModuleType:
    global _native
    if _native is None:
        import obstore._obstore as installed

        _native = _fresh_copy(installed.__file__) if _inherited else installed
    return _native
