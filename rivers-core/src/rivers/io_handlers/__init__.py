"""IO handlers: how asset values are written and loaded.

``BaseIOHandler`` is the contract every handler implements (ours and third
parties'); ``InMemoryIOHandler`` is the default handler of a repository.
"""

from rivers.io_handlers.base import BaseIOHandler
from rivers.io_handlers.memory import InMemoryIOHandler

__all__ = ["BaseIOHandler", "InMemoryIOHandler"]
