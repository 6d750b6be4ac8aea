"""Resources (objects injected by parameter name) and typed run config."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rivers._settings import Settings
from rivers.exceptions import ConfigurationError
from rivers.io_handlers.base import BaseIOHandler

if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import TypeGuard


class Resource(Settings):
    """A configurable object injected into steps whose parameter has its key.

    Declare settings as annotated class attributes; override ``setup`` and
    ``teardown`` to open and close connections. ``setup`` runs once when the
    repository resolves, ``teardown`` on ``CodeRepository.shutdown()``.
    """

    def setup(self) -> None:
        """Called once before the resource is first used."""

    def teardown(self) -> None:
        """Called when the repository shuts down."""


def _is_pydantic_model(obj: object) -> bool:
    cls = obj if isinstance(obj, type) else type(obj)
    return any(base.__module__.startswith("pydantic") and base.__name__ == "BaseModel" for base in cls.__mro__)


def _is_attrs_class(cls: type) -> bool:
    return getattr(cls, "__attrs_attrs__", None) is not None


def _is_dataclass(cls: type) -> bool:
    # what dataclasses.is_dataclass checks, without importing dataclasses (and its code generator) on the run path
    return hasattr(cls, "__dataclass_fields__")


def is_config_class(cls: object) -> TypeGuard[type[Any]]:
    """Classes usable as typed config: pydantic models, dataclasses, attrs classes, Resources."""
    return isinstance(cls, type) and (
        _is_pydantic_model(cls) or _is_dataclass(cls) or _is_attrs_class(cls) or issubclass(cls, Settings)
    )


RESOURCE_TYPE_MESSAGE = (
    "Expected a Pydantic BaseModel/BaseSettings subclass, Resource instance or BaseIOHandler, got {kind}; "
    "resources may also be dataclass or attrs instances — wrap other objects in one of those"
)


def check_resource(key: str, value: object) -> None:
    """Reject resource values rivers cannot manage, naming the key."""
    if isinstance(value, (BaseIOHandler, Resource)) or _is_pydantic_model(value):
        return
    cls = type(value)
    if not isinstance(value, type) and (_is_dataclass(cls) or _is_attrs_class(cls)):
        return
    raise ConfigurationError(f"resources[{key!r}]: " + RESOURCE_TYPE_MESSAGE.format(kind=cls.__name__ if not isinstance(value, type) else f"class {value.__name__}"))


def build_config(config_type: object, overrides: Mapping[str, object] | None, step_key: str) -> Any:
    """Instantiate a step's config class with the run's overrides for that step."""
    if not is_config_class(config_type):
        raise ConfigurationError(
            f"Step '{step_key}': Expected a Pydantic BaseModel/BaseSettings subclass, dataclass or attrs class "
            f"as the config type of AssetExecutionContext[...], got {config_type!r}"
        )
    return config_type(**(overrides or {}))
