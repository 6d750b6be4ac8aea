"""The IO-handler contract.

A handler persists the value a step produced (``handle_output``) and loads it
again for every consumer (``load_input``). Subclasses declare their settings
as annotated class attributes, the way pydantic-settings models do in the
published package, without making pydantic a dependency::

    class JsonFiles(rs.BaseIOHandler):
        root: str = "out"

        def handle_output(self, context, obj): ...
        def load_input(self, context): ...

    JsonFiles(root="data")
"""

from __future__ import annotations

import abc
from typing import TYPE_CHECKING, Any

from rivers._settings import Settings

if TYPE_CHECKING:
    from rivers.context import InputContext, OutputContext


class BaseIOHandler(Settings, abc.ABC):
    """Base class of every IO handler.

    Settings are the public annotated class attributes of the subclass (and
    its bases); they become keyword arguments of the constructor. A setting
    without a default is required. Handlers must be picklable (or importable
    by module and qualified name) to cross process boundaries.
    """

    @abc.abstractmethod
    def handle_output(self, context: OutputContext, obj: Any) -> None:
        """Persist ``obj``, the value produced for ``context.asset_name``."""

    @abc.abstractmethod
    def load_input(self, context: InputContext) -> Any:
        """Load the value stored for ``context.asset_name`` (and its partition)."""
