"""Declarative settings: annotated class attributes become constructor keywords.

Shared by :class:`~rivers.BaseIOHandler` and :class:`~rivers.Resource`, which
in the published package are pydantic-settings models. This keeps their
user-facing shape (``class Api(rs.Resource): url: str = "..."``) without
making pydantic a dependency of the core.
"""

from __future__ import annotations

import copy
from typing import Any, ClassVar, get_origin

_MISSING = object()


def _is_classvar(annotation: Any) -> bool:
    if isinstance(annotation, str):
        return annotation.startswith(("ClassVar", "typing.ClassVar"))
    return annotation is ClassVar or get_origin(annotation) is ClassVar


class Settings:
    """Base for classes configured by annotated class attributes.

    A public annotated attribute is a setting; its class value is the default
    (no value: the setting is required). ``__init__`` takes the settings as
    keyword arguments and rejects unknown ones.
    """

    _settings_fields: ClassVar[dict[str, Any]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        fields: dict[str, Any] = {}
        for klass in reversed(cls.__mro__):
            for name, annotation in vars(klass).get("__annotations__", {}).items():
                if name.startswith("_") or _is_classvar(annotation):
                    continue
                fields[name] = klass.__dict__.get(name, _MISSING)
        cls._settings_fields = fields

    def __init__(self, **settings: Any) -> None:
        fields = type(self)._settings_fields
        unknown = sorted(set(settings) - set(fields))
        if unknown:
            raise TypeError(
                f"{type(self).__name__} got unknown setting(s) {unknown}; known settings: {sorted(fields)}"
            )
        for name, default in fields.items():
            if name in settings:
                value = settings[name]
            elif default is _MISSING:
                raise TypeError(f"{type(self).__name__} requires the setting '{name}'")
            else:
                value = copy.copy(default) if isinstance(default, (list, dict, set)) else default
            setattr(self, name, value)

    def settings(self) -> dict[str, Any]:
        """The current settings as a dict."""
        return {name: getattr(self, name) for name in type(self)._settings_fields}

    def model_copy(self, *, update: dict[str, Any] | None = None) -> Any:
        """A copy with some settings replaced (pydantic-compatible spelling)."""
        clone = copy.copy(self)
        for name, value in (update or {}).items():
            if name not in type(self)._settings_fields:
                raise TypeError(f"{type(self).__name__} has no setting '{name}'")
            setattr(clone, name, value)
        return clone

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.settings().items())
        return f"{type(self).__name__}({args})"
