"""Result wrappers a step may return or yield: Output, Observation, Materialization."""

from __future__ import annotations

from typing import Any


def _flag(value: bool) -> str:
    return "true" if value else "false"


class Output:
    """A value plus the metadata, data version and tags of its Materialization event.

    The IO handler receives the unwrapped ``value``; ``output_name`` selects the
    output of a multi-asset (it is ignored on single assets).
    """

    __slots__ = ("value", "output_name", "metadata", "data_version", "tags")

    def __init__(
        self,
        value: Any = None,
        *,
        output_name: str | None = None,
        metadata: dict[str, Any] | None = None,
        data_version: str | None = None,
        tags: list[str] | None = None,
    ) -> None:
        self.value = value
        self.output_name = output_name
        self.metadata = metadata
        self.data_version = data_version
        self.tags = tags

    def __repr__(self) -> str:
        parts = [] if self.output_name is None else [f"output_name={self.output_name!r}"]
        parts += [f"has_value={_flag(self.value is not None)}", f"has_metadata={_flag(bool(self.metadata))}"]
        if self.data_version is not None:
            parts.append(f"data_version={self.data_version!r}")
        return f"Output({', '.join(parts)})"


class Observation:
    """Metadata about data rivers did not write: records an Observation event, no IO."""

    __slots__ = ("output_name", "metadata", "data_version")

    def __init__(
        self,
        *,
        output_name: str | None = None,
        metadata: dict[str, Any] | None = None,
        data_version: str | None = None,
    ) -> None:
        self.output_name = output_name
        self.metadata = metadata
        self.data_version = data_version

    def __repr__(self) -> str:
        return f"Observation(output_name={self.output_name!r})" if self.output_name else "Observation()"


class Materialization:
    """The step persisted its output itself: record the event, never call ``handle_output``.

    Downstream steps cannot load such an output; treat the asset as terminal.
    """

    __slots__ = ("output_name", "metadata", "data_version", "tags")

    def __init__(
        self,
        *,
        output_name: str | None = None,
        metadata: dict[str, Any] | None = None,
        data_version: str | None = None,
        tags: list[str] | None = None,
    ) -> None:
        self.output_name = output_name
        self.metadata = metadata
        self.data_version = data_version
        self.tags = tags

    def __repr__(self) -> str:
        parts = []
        if self.output_name is not None:
            parts.append(f"output_name={self.output_name!r}")
        if self.metadata:
            parts.append("has_metadata=true")
        if self.data_version is not None:
            parts.append(f"data_version={self.data_version!r}")
        return f"Materialization({', '.join(parts)})"


class DynamicOutput:
    """One element of a fan-out, with its mapping key."""

    __slots__ = ("key", "value")

    def __init__(self, key: str, value: Any) -> None:
        self.key = key
        self.value = value

    def __repr__(self) -> str:
        return f"DynamicOutput(key={self.key!r})"


class StreamedResults(list):  # type: ignore[type-arg]
    """The stored value of a fan-out's ``collect_stream()``: its consumer receives ``iter(...)`` of it."""

    __slots__ = ()


RESULT_WRAPPERS = (Output, Observation, Materialization)
