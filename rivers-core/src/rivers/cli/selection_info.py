"""What a selection of a loaded repository holds: its steps, its partitioned assets and their definitions.

The commands use it to check a request before starting a run, so that the
error names the command-line flag to use.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from rivers.cli.errors import CliError

if TYPE_CHECKING:
    from rivers.repository import CodeRepository

__all__ = ["parse_key", "parse_keys", "partitioned_groups", "require_key", "selected_steps", "selects_multi_definition"]


def selected_steps(repository: CodeRepository, selection: Sequence[str] | None) -> list[str]:
    """The step names a selection runs (every step when ``None``)."""
    state = repository.resolved
    return list(state.step_names(state.select(selection, include_upstream=False)))


def partitioned_groups(repository: CodeRepository, selection: Sequence[str] | None) -> list[tuple[Any, list[str]]]:
    """The selected partitioned steps grouped by their partitions definition, in the graph's order."""
    nodes = repository.resolved.graph.nodes
    groups: list[tuple[Any, list[str]]] = []
    for name in selected_steps(repository, selection):
        definition = nodes[name].partitions_def
        if definition is None:
            continue
        for known, names in groups:
            if known == definition:
                names.append(name)
                break
        else:
            groups.append((definition, [name]))
    return groups


def selects_multi_definition(repository: CodeRepository, selection: Sequence[str] | None) -> bool:
    """Whether an asset of ``selection`` (all assets if None) is partitioned by a multi definition."""
    from rivers.partitions.base import PartitionsDefinition

    return any(isinstance(definition, PartitionsDefinition.Multi)
               for definition, _ in partitioned_groups(repository, selection))


def parse_keys(texts: Sequence[str], repository: CodeRepository, selection: Sequence[str] | None) -> list[Any]:
    """Keys given on the command line; text with ``=`` is a multi key only if the selection has a multi definition.

    (``"a=b"`` is also a valid static key: read as multi, it would not be one.)
    """
    from rivers.partitions.keys import parse_display

    multi = any("=" in text for text in texts) and selects_multi_definition(repository, selection)
    return [parse_display(text, multi=multi and "=" in text) for text in texts]


def parse_key(text: str, repository: CodeRepository, selection: Sequence[str] | None) -> Any:
    """One key given on the command line (see :func:`parse_keys`)."""
    return parse_keys([text], repository, selection)[0]


def require_key(repository: CodeRepository, selection: Sequence[str] | None, flag: str) -> None:
    """Refuse to run a partitioned selection without a key, naming ``flag``."""
    groups = partitioned_groups(repository, selection)
    if not groups:
        return
    names = [name for _, members in groups for name in members]
    definition = groups[0][0]
    example = _first_key(definition)
    hint = f" (e.g. {flag} {example})" if example else ""
    raise CliError(
        f"the selection has partitioned assets ({', '.join(names[:5])}{', ...' if len(names) > 5 else ''}): "
        f"pass {flag} KEY{hint}, select only unpartitioned assets, or run many keys with `rivers backfill`"
    )


def _first_key(definition: Any) -> str | None:
    try:
        keys = definition.get_partition_keys()
    except Exception:  # noqa: BLE001 - a dynamic definition needs storage; the hint is optional
        return None
    return str(keys[-1]) if keys else None
