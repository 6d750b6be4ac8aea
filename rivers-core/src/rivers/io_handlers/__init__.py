"""IO handlers: how asset values are written and loaded.

``BaseIOHandler`` is the contract every handler implements (ours and third
parties'); ``InMemoryIOHandler`` is the default handler of a repository.
"""

from typing import Any

from rivers.io_handlers.base import BaseIOHandler
from rivers.io_handlers.memory import InMemoryIOHandler

__all__ = ["BaseIOHandler", "InMemoryIOHandler", "PickleIOHandler"]


def __getattr__(name: str) -> Any:
    # PickleIOHandler pulls in pickle and the serialisation registry: load it on first use
    if name == "PickleIOHandler":
        from rivers.io_handlers.pickle import PickleIOHandler

        return PickleIOHandler
    raise AttributeError(f"module 'rivers.io_handlers' has no attribute '{name}'")
