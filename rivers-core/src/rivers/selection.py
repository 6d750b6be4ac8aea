"""Asset selections: which assets a run or a job targets.

A selection is an immutable expression over the asset graph, built either in
Python, in the style of Dagster's ``AssetSelection``::

    from rivers.selection import AssetSelection as AS

    AS.groups("raw").downstream() - AS.assets("report")
    AS.tag("team", "data") & AS.kinds("duckdb")
    AS.assets("orders").upstream(depth=2)

or from a string, with :func:`parse_selection`::

    orders                    the asset named ``orders``
    pipeline/step_a           a graph-internal node (names may hold ``/ . - _``)
    key:"odd name"            explicit name; quoting allows any characters
    *                         every asset
    group:raw                 the assets of group ``raw``
    tag:etl   tag:team=data   assets tagged ``etl`` / ``team=data`` (exact)
    kind:duckdb               assets of kind ``duckdb``
    +orders   ++orders        orders and its parents (one / two levels up)
    *orders                   orders and all its ancestors
    orders+   orders++        orders and its children (one / two levels down)
    orders*                   orders and all its descendants
    +orders+  *orders*        both directions at once
    +(group:raw)  group:raw*  modifiers apply to any atom or parenthesised group
    roots(group:raw)          assets of the selection without a parent in it
    sinks(*report)            assets of the selection without a child in it
    a | b     a or b          union
    a & b     a and b         intersection
    a - b                     difference
    not a                     every asset except ``a`` (``* - a``)
    (a | b) & tag:etl         parentheses group

Precedence, tightest first: modifiers (``+``/``*``), ``not``, ``&``/``and``,
then ``|``/``or`` and ``-``, which share a level and associate to the left, so
``a | b - c`` is ``(a | b) - c`` and ``a - b & c`` is ``a - (b & c)``.
Keywords may also be written upper-case (``AND``, ``OR``, ``NOT``) and cannot
be bare asset names (write ``key:"and"``). A ``-`` between two name
characters belongs to the name: ``raw-orders`` is one asset, ``raw - orders``
a difference. Modifiers must touch their operand: ``+orders``, not
``+ orders``.

Selections are resolved against any object implementing
:class:`SelectableGraph`; :meth:`AssetSelection.resolve` returns the selected
names in the graph's topological order. :func:`normalize_selection` turns the
values users pass as ``selection=`` (``None``, strings, selections, asset
objects, or sequences of these) into one :class:`AssetSelection`.
"""

from __future__ import annotations

import abc
import difflib
from collections.abc import Callable, Iterable, Sequence, Set
from dataclasses import dataclass
from typing import Any, ClassVar, NamedTuple, Protocol, TypeAlias

from rivers.exceptions import AssetNotFoundError, ConfigurationError

__all__ = [
    "AssetSelection",
    "SelectableGraph",
    "SelectionLike",
    "normalize_selection",
    "parse_selection",
]


class SelectableGraph(Protocol):
    """What a graph must offer for selections to be resolved against it."""

    @property
    def names(self) -> Sequence[str]:
        """The names of the selectable nodes, in topological order."""
        ...

    def group_of(self, name: str) -> str | None:
        """The group of node ``name``, if it has one."""
        ...

    def tags_of(self, name: str) -> Sequence[str]:
        """The tags of node ``name``: strings such as ``"etl"`` or ``"team=data"``."""
        ...

    def kinds_of(self, name: str) -> Sequence[str]:
        """The kinds of node ``name`` (for example ``"duckdb"``)."""
        ...

    def parents(self, name: str) -> Iterable[str]:
        """The direct upstream dependencies of node ``name``."""
        ...

    def children(self, name: str) -> Iterable[str]:
        """The direct downstream dependents of node ``name``."""
        ...


# Rendering precedence levels, loosest first. A sub-expression is wrapped in
# parentheses when its level is lower than the one its position requires.
_DIFF, _UNION, _AND, _UNARY, _MODIFIED, _ATOM = range(6)

_KEYWORDS = frozenset({"and", "or", "not", "AND", "OR", "NOT"})


class _Context:
    """The graph being resolved against, with its names listed and hashed once."""

    __slots__ = ("graph", "name_set", "names")

    def __init__(self, graph: SelectableGraph) -> None:
        self.graph = graph
        self.names: Sequence[str] = graph.names
        self.name_set: frozenset[str] = frozenset(self.names)


class AssetSelection(abc.ABC):
    """An immutable, composable description of a set of assets.

    Build selections with the class methods (:meth:`all`, :meth:`assets`,
    :meth:`groups`, :meth:`tag`, :meth:`kinds`), extend them with
    :meth:`upstream`, :meth:`downstream`, :meth:`roots` and :meth:`sinks`,
    and combine them with ``|`` (union), ``&`` (intersection) and ``-``
    (difference). ``str(selection)`` is the equivalent string expression::

        >>> str(AssetSelection.groups("raw").downstream(1) - AssetSelection.assets("x"))
        'group:raw+ - x'

    Selections compare equal when built the same way and are hashable.
    """

    __slots__ = ()

    # -- constructors -----------------------------------------------------

    @staticmethod
    def all() -> AssetSelection:
        """Every selectable asset of the graph (``*``)."""
        return _All()

    @staticmethod
    def assets(*assets: str | Any) -> AssetSelection:
        """The named assets (``orders`` or ``key:orders``).

        Items are names or asset objects with a ``name`` attribute. Resolving
        raises :class:`~rivers.exceptions.AssetNotFoundError` for a name the
        graph does not have. With no argument the selection is empty.
        """
        names = (_name_of(item, "AssetSelection.assets()") for item in assets)
        return _Keys(tuple(dict.fromkeys(names)))

    @staticmethod
    def groups(*groups: str) -> AssetSelection:
        """The assets belonging to any of ``groups`` (``group:NAME``)."""
        return _Groups(_strings(groups, "AssetSelection.groups()", "group names"))

    @staticmethod
    def tag(key: str, value: str | None = None) -> AssetSelection:
        """The assets tagged exactly ``key`` or, with a value, ``key=value``.

        ``tag("etl")`` is ``tag:etl`` and matches the tag string ``"etl"``;
        ``tag("team", "data")`` is ``tag:team=data`` and matches ``"team=data"``.
        """
        (key,) = _strings((key,), "AssetSelection.tag()", "a tag key")
        if value is not None:
            (value,) = _strings((value,), "AssetSelection.tag()", "a tag value")
        return _Tag(key, value)

    @staticmethod
    def kinds(*kinds: str) -> AssetSelection:
        """The assets having any of ``kinds`` (``kind:NAME``)."""
        return _Kinds(_strings(kinds, "AssetSelection.kinds()", "kind names"))

    # -- graph traversal --------------------------------------------------

    def upstream(self, depth: int | None = None, include_self: bool = True) -> AssetSelection:
        """This selection and its ancestors up to ``depth`` levels (all if ``None``).

        ``depth=1`` is ``+x``, ``depth=2`` is ``++x`` and ``None`` is ``*x``.
        With ``include_self=False`` the assets of this selection are removed
        from the result.
        """
        return _traverse(self, _Reach(_check_depth(depth)), None, include_self)

    def downstream(self, depth: int | None = None, include_self: bool = True) -> AssetSelection:
        """This selection and its descendants down to ``depth`` levels (all if ``None``).

        ``depth=1`` is ``x+``, ``depth=2`` is ``x++`` and ``None`` is ``x*``.
        With ``include_self=False`` the assets of this selection are removed
        from the result.
        """
        return _traverse(self, None, _Reach(_check_depth(depth)), include_self)

    def roots(self) -> AssetSelection:
        """The assets of this selection none of whose parents are in it (``roots(x)``)."""
        return _Roots(self)

    def sinks(self) -> AssetSelection:
        """The assets of this selection none of whose children are in it (``sinks(x)``)."""
        return _Sinks(self)

    # -- set algebra ------------------------------------------------------

    def __or__(self, other: AssetSelection) -> AssetSelection:
        if not isinstance(other, AssetSelection):
            return NotImplemented
        return _union((self, other))

    def __and__(self, other: AssetSelection) -> AssetSelection:
        if not isinstance(other, AssetSelection):
            return NotImplemented
        return _intersection((self, other))

    def __sub__(self, other: AssetSelection) -> AssetSelection:
        if not isinstance(other, AssetSelection):
            return NotImplemented
        return _difference(self, (other,))

    # -- resolution and display -------------------------------------------

    def resolve(self, graph: SelectableGraph) -> list[str]:
        """The names this selection designates in ``graph``, in its topological order.

        Raises :class:`~rivers.exceptions.AssetNotFoundError` when the
        selection names an asset the graph does not have. Runs in time linear
        in the size of the graph and of the selection.
        """
        context = _Context(graph)
        selected = self._select(context)
        return [name for name in context.names if name in selected]

    def __str__(self) -> str:
        return self._render()[0]

    def __repr__(self) -> str:
        return f"<AssetSelection {self}>"

    @abc.abstractmethod
    def _select(self, context: _Context) -> Set[str]:
        """The selected names; always a subset of ``context.name_set``."""

    @abc.abstractmethod
    def _render(self) -> tuple[str, int]:
        """The expression text and its precedence level."""


SelectionLike: TypeAlias = str | AssetSelection | Sequence[str | AssetSelection | Any] | Set[Any]
"""What ``selection=`` parameters accept; see :func:`normalize_selection`."""


def _wrap(selection: AssetSelection, level: int) -> str:
    """Render ``selection``, parenthesised if it binds looser than ``level``."""
    text, own = selection._render()
    return text if own >= level else f"({text})"


# -- leaves ----------------------------------------------------------------


@dataclass(frozen=True, slots=True, repr=False)
class _All(AssetSelection):
    def _select(self, context: _Context) -> Set[str]:
        return context.name_set

    def _render(self) -> tuple[str, int]:
        return "*", _ATOM


@dataclass(frozen=True, slots=True, repr=False)
class _Values(AssetSelection):
    """Assets matching any of several values of one attribute."""

    values: tuple[str, ...]
    attribute: ClassVar[str]

    def _select(self, context: _Context) -> Set[str]:
        wanted = frozenset(self.values)
        return {name for name in context.names if self._matches(context.graph, name, wanted)}

    def _matches(self, graph: SelectableGraph, name: str, wanted: frozenset[str]) -> bool:
        raise NotImplementedError

    def _render_one(self, value: str) -> str:
        return f"{self.attribute}:{_render_value(value)}"

    def _render(self) -> tuple[str, int]:
        if not self.values:
            return "not *", _UNARY
        text = " | ".join(self._render_one(value) for value in self.values)
        return text, _ATOM if len(self.values) == 1 else _UNION


@dataclass(frozen=True, slots=True, repr=False)
class _Keys(_Values):
    attribute = "key"

    def _select(self, context: _Context) -> Set[str]:
        missing = [name for name in self.values if name not in context.name_set]
        if missing:
            raise AssetNotFoundError(_unknown_asset_message(missing, context.names))
        return frozenset(self.values)

    def _render_one(self, value: str) -> str:
        return value if _is_bare(value) else _Values._render_one(self, value)


@dataclass(frozen=True, slots=True, repr=False)
class _Groups(_Values):
    attribute = "group"

    def _matches(self, graph: SelectableGraph, name: str, wanted: frozenset[str]) -> bool:
        return graph.group_of(name) in wanted


@dataclass(frozen=True, slots=True, repr=False)
class _Kinds(_Values):
    attribute = "kind"

    def _matches(self, graph: SelectableGraph, name: str, wanted: frozenset[str]) -> bool:
        return not wanted.isdisjoint(graph.kinds_of(name))


@dataclass(frozen=True, slots=True, repr=False)
class _Tag(AssetSelection):
    key: str
    value: str | None

    def _select(self, context: _Context) -> Set[str]:
        tag = self.key if self.value is None else f"{self.key}={self.value}"
        return {name for name in context.names if tag in context.graph.tags_of(name)}

    def _render(self) -> tuple[str, int]:
        text = f"tag:{_render_value(self.key)}"
        if self.value is not None:
            text += f"={_render_value(self.value)}"
        return text, _ATOM


# -- set operations -------------------------------------------------------


@dataclass(frozen=True, slots=True, repr=False)
class _Union(AssetSelection):
    operands: tuple[AssetSelection, ...]

    def _select(self, context: _Context) -> Set[str]:
        selected: set[str] = set()
        for operand in self.operands:
            selected |= operand._select(context)
        return selected

    def _render(self) -> tuple[str, int]:
        # "a - b | c" needs no parentheses, "a | (b - c)" does.
        first, *rest = self.operands
        parts = [_wrap(first, _DIFF), *(_wrap(operand, _UNION) for operand in rest)]
        return " | ".join(parts), _UNION


@dataclass(frozen=True, slots=True, repr=False)
class _Intersection(AssetSelection):
    operands: tuple[AssetSelection, ...]

    def _select(self, context: _Context) -> Set[str]:
        # Every operand is resolved, even after an empty one, so that unknown
        # names are reported whatever the operand order.
        results = [operand._select(context) for operand in self.operands]
        return set(results[0]).intersection(*results[1:])

    def _render(self) -> tuple[str, int]:
        return " & ".join(_wrap(operand, _AND) for operand in self.operands), _AND


@dataclass(frozen=True, slots=True, repr=False)
class _Difference(AssetSelection):
    base: AssetSelection
    removed: tuple[AssetSelection, ...]

    def _select(self, context: _Context) -> Set[str]:
        selected = set(self.base._select(context))
        for operand in self.removed:
            selected -= operand._select(context)
        return selected

    def _render(self) -> tuple[str, int]:
        removed = [_wrap(operand, _AND) for operand in self.removed]
        if isinstance(self.base, _All):
            head = f"not {_wrap(self.removed[0], _UNARY)}"
            if len(removed) == 1:
                return head, _UNARY
            return " - ".join([head, *removed[1:]]), _DIFF
        return " - ".join([_wrap(self.base, _DIFF), *removed]), _DIFF


def _union(parts: Iterable[AssetSelection]) -> AssetSelection:
    """The union of ``parts``, flattened, with same-attribute atoms merged.

    ``a | b | group:x`` becomes one ``_Keys(("a", "b"))`` next to
    ``_Groups(("x",))``, so a union of many names resolves with one pass.
    """
    flat: list[AssetSelection] = []
    merged: dict[type[_Values], tuple[int, list[str]]] = {}
    for part in parts:
        for operand in part.operands if isinstance(part, _Union) else (part,):
            if isinstance(operand, _Values):
                slot = merged.get(type(operand))
                if slot is None:
                    slot = merged[type(operand)] = (len(flat), [])
                    flat.append(operand)
                slot[1].extend(operand.values)
            else:
                flat.append(operand)
    for kind, (index, values) in merged.items():
        flat[index] = kind(tuple(dict.fromkeys(values)))
    # Empty atoms (``AssetSelection.assets()``) add nothing to a union.
    non_empty = [op for op in flat if not (isinstance(op, _Values) and not op.values)]
    flat = non_empty or flat[:1]
    return flat[0] if len(flat) == 1 else _Union(tuple(flat))


def _intersection(parts: Iterable[AssetSelection]) -> AssetSelection:
    flat: list[AssetSelection] = []
    for part in parts:
        flat.extend(part.operands if isinstance(part, _Intersection) else (part,))
    return flat[0] if len(flat) == 1 else _Intersection(tuple(flat))


def _difference(base: AssetSelection, removed: Iterable[AssetSelection]) -> AssetSelection:
    if isinstance(base, _Difference):
        return _Difference(base.base, base.removed + tuple(removed))
    return _Difference(base, tuple(removed))


# -- graph traversal -------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Reach:
    """How far a traversal goes: ``depth`` levels, or all the way if ``None``."""

    depth: int | None

    def render(self) -> str:
        return "*" if self.depth is None else "+" * self.depth


@dataclass(frozen=True, slots=True, repr=False)
class _Traverse(AssetSelection):
    operand: AssetSelection
    up: _Reach | None
    down: _Reach | None
    include_self: bool = True

    def _select(self, context: _Context) -> Set[str]:
        seeds = self.operand._select(context)
        selected = set(seeds)
        if self.up is not None:
            selected |= _breadth_first(seeds, context.graph.parents, self.up.depth)
        if self.down is not None:
            selected |= _breadth_first(seeds, context.graph.children, self.down.depth)
        if not self.include_self:
            selected -= seeds
        # The walk may cross nodes that are not selectable; they are dropped.
        return selected & context.name_set

    def _render(self) -> tuple[str, int]:
        prefix = "" if self.up is None else self.up.render()
        suffix = "" if self.down is None else self.down.render()
        text = f"{prefix}{_wrap(self.operand, _ATOM)}{suffix}"
        if self.include_self:
            return text, _MODIFIED
        return f"{text} - {_wrap(self.operand, _AND)}", _DIFF


def _traverse(
    operand: AssetSelection, up: _Reach | None, down: _Reach | None, include_self: bool
) -> AssetSelection:
    if up == _Reach(0) or down == _Reach(0):
        return operand if include_self else AssetSelection.assets()
    return _Traverse(operand, up, down, include_self)


def _breadth_first(
    seeds: Iterable[str], step: Callable[[str], Iterable[str]], depth: int | None
) -> set[str]:
    """``seeds`` and every node within ``depth`` ``step``s of them (no limit if ``None``)."""
    seen = set(seeds)
    frontier = list(seen)
    level = 0
    while frontier and (depth is None or level < depth):
        level += 1
        reached: list[str] = []
        for node in frontier:
            for neighbour in step(node):
                if neighbour not in seen:
                    seen.add(neighbour)
                    reached.append(neighbour)
        frontier = reached
    return seen


@dataclass(frozen=True, slots=True, repr=False)
class _Roots(AssetSelection):
    operand: AssetSelection
    function: ClassVar[str] = "roots"

    def _neighbours(self, graph: SelectableGraph) -> Callable[[str], Iterable[str]]:
        return graph.parents

    def _select(self, context: _Context) -> Set[str]:
        selected = self.operand._select(context)
        neighbours = self._neighbours(context.graph)
        return {
            name for name in selected if not any(other in selected for other in neighbours(name))
        }

    def _render(self) -> tuple[str, int]:
        return f"{self.function}({_wrap(self.operand, _DIFF)})", _ATOM


@dataclass(frozen=True, slots=True, repr=False)
class _Sinks(_Roots):
    function = "sinks"

    def _neighbours(self, graph: SelectableGraph) -> Callable[[str], Iterable[str]]:
        return graph.children


# -- argument checking and messages ----------------------------------------


def _strings(values: tuple[Any, ...], where: str, what: str) -> tuple[str, ...]:
    for value in values:
        if not isinstance(value, str) or not value:
            raise TypeError(
                f"{where} takes {what} as separate non-empty strings; "
                f"got {type(value).__name__} {value!r}"
            )
    return values


def _name_of(item: Any, where: str) -> str:
    """The asset name ``item`` stands for: a string, or an object's ``name``."""
    name = item if isinstance(item, str) else getattr(item, "name", None)
    if not isinstance(name, str) or not name:
        raise TypeError(
            f"{where} takes asset names or asset objects with a 'name' attribute; "
            f"got {type(item).__name__} {item!r}"
        )
    return name


def _check_depth(depth: int | None) -> int | None:
    if depth is None:
        return None
    if not isinstance(depth, int) or isinstance(depth, bool):
        raise TypeError(f"depth must be an int or None; got {type(depth).__name__} {depth!r}")
    if depth < 0:
        raise ConfigurationError(
            f"depth must be None (no limit) or a non-negative int; got {depth}"
        )
    return depth


def _unknown_asset_message(missing: Sequence[str], known: Sequence[str]) -> str:
    message = f"Selection contains unknown asset: {missing[0]!r}"
    close = difflib.get_close_matches(missing[0], known, n=3, cutoff=0.6)
    if close:
        choices = ", ".join(repr(name) for name in close)
        message += f". Did you mean {choices if len(close) == 1 else 'one of ' + choices}?"
    if len(missing) > 1:
        others = ", ".join(repr(name) for name in missing[1:6])
        message += f" Also unknown: {others}{', ...' if len(missing) > 6 else ''}."
    return message


# -- tokenizer --------------------------------------------------------------


class _Token(NamedTuple):
    kind: str  # "word", "string", "end" or the punctuation itself ("+" runs: "+")
    text: str  # the word, the unquoted string, or the source text
    start: int
    end: int

    def describe(self) -> str:
        if self.kind == "end":
            return "the end of the expression"
        if self.kind == "string":
            return f"string {_quote(self.text)}"
        return repr(self.text)


_PUNCTUATION = frozenset("()|&-:=*")


def _is_name_char(char: str) -> bool:
    """Characters of a name other than ``-`` (allowed only between them)."""
    return char.isalnum() or char in "_./"


def _scan_name(text: str, start: int) -> int:
    """The end of the name starting at ``start``; dashes must lead to more name."""
    end = start
    while end < len(text):
        if _is_name_char(text[end]):
            end += 1
        elif text[end] == "-":
            after = end
            while after < len(text) and text[after] == "-":
                after += 1
            if after == len(text) or not _is_name_char(text[after]):
                break
            end = after
        else:
            break
    return end


def _scan_string(text: str, start: int) -> tuple[str, int]:
    """The value and end of the double-quoted string at ``start``."""
    chars: list[str] = []
    index = start + 1
    while index < len(text):
        char = text[index]
        if char == '"':
            return "".join(chars), index + 1
        if char == "\\" and index + 1 < len(text):
            index += 1
            char = text[index]
        chars.append(char)
        index += 1
    raise _syntax_error(text, start, "unterminated string: expected a closing '\"'")


def _tokenize(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    index = 0
    while index < len(text):
        char = text[index]
        if char.isspace():
            index += 1
            continue
        if char == "+":
            end = index
            while end < len(text) and text[end] == "+":
                end += 1
            tokens.append(_Token("+", text[index:end], index, end))
        elif char in _PUNCTUATION:
            end = index + 1
            tokens.append(_Token(char, char, index, end))
        elif char == '"':
            value, end = _scan_string(text, index)
            tokens.append(_Token("string", value, index, end))
        elif _is_name_char(char):
            end = _scan_name(text, index)
            tokens.append(_Token("word", text[index:end], index, end))
        else:
            raise _syntax_error(text, index, f"unexpected character {char!r}")
        index = end
    tokens.append(_Token("end", "", len(text), len(text)))
    return tokens


def _is_bare(name: str) -> bool:
    """Whether ``name`` reads back as one name without quoting."""
    return (
        bool(name)
        and _is_name_char(name[0])
        and _scan_name(name, 0) == len(name)
        and name not in _KEYWORDS
    )


def _quote(value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


def _render_value(value: str) -> str:
    return value if _is_bare(value) else _quote(value)


def _syntax_error(text: str, position: int, message: str) -> ConfigurationError:
    pointer = " " * position + "^"
    shown = "".join(" " if char.isspace() else char for char in text)
    return ConfigurationError(
        f"Invalid selection expression {text!r}: {message} at position {position}."
        f"\n  {shown}\n  {pointer}"
    )


# -- parser ----------------------------------------------------------------

_ATTRIBUTES: dict[str, Callable[[str], AssetSelection]] = {
    "key": lambda value: _Keys((value,)),
    "group": lambda value: _Groups((value,)),
    "kind": lambda value: _Kinds((value,)),
    "tag": lambda value: _Tag(value, None),
}
_FUNCTIONS: dict[str, Callable[[AssetSelection], AssetSelection]] = {
    "roots": _Roots,
    "sinks": _Sinks,
}
_EXPECTED_SELECTION = "expected an asset name, an attribute such as 'group:NAME', '*' or '('"


class _Parser:
    """Recursive descent over the grammar::

        expr     := term (("|" | "or" | "-") term)*
        term     := unary (("&" | "and") unary)*
        unary    := "not" unary | modified
        modified := ["+"... | "*"] primary ["+"... | "*"]    (touching)
        primary  := "*" | NAME | attr ":" VALUE ["=" VALUE]
                  | ("roots" | "sinks") "(" expr ")" | "(" expr ")"
    """

    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = _tokenize(text)
        self.index = 0

    # token helpers

    @property
    def token(self) -> _Token:
        return self.tokens[self.index]

    def peek(self, offset: int = 1) -> _Token:
        return self.tokens[min(self.index + offset, len(self.tokens) - 1)]

    def advance(self) -> _Token:
        token = self.token
        self.index += 1
        return token

    def keyword(self, token: _Token) -> str | None:
        return token.text.lower() if token.kind == "word" and token.text in _KEYWORDS else None

    def error(self, expected: str, token: _Token | None = None) -> ConfigurationError:
        token = token or self.token
        return _syntax_error(self.text, token.start, f"{expected}, found {token.describe()}")

    def expect(self, kind: str, expected: str) -> _Token:
        if self.token.kind != kind:
            raise self.error(expected)
        return self.advance()

    # grammar

    def parse(self) -> AssetSelection:
        selection = self.expr()
        if self.token.kind != "end":
            raise self.error("expected '|', '&', '-', 'or', 'and' or the end of the expression")
        return selection

    def expr(self) -> AssetSelection:
        # Operands of a run of "|" are collected and unioned once, and so are
        # the operands of a run of "-", keeping long expressions linear.
        united = [self.term()]
        removed: list[AssetSelection] = []
        while True:
            if self.token.kind == "|" or self.keyword(self.token) == "or":
                self.advance()
                if removed:
                    united, removed = [_difference(_union(united), removed)], []
                united.append(self.term())
            elif self.token.kind == "-":
                self.advance()
                removed.append(self.term())
            else:
                break
        result = _union(united)
        return _difference(result, removed) if removed else result

    def term(self) -> AssetSelection:
        operands = [self.unary()]
        while self.token.kind == "&" or self.keyword(self.token) == "and":
            self.advance()
            operands.append(self.unary())
        return _intersection(operands)

    def unary(self) -> AssetSelection:
        if self.keyword(self.token) == "not":
            self.advance()
            return _difference(_All(), (self.unary(),))
        return self.modified()

    def modified(self) -> AssetSelection:
        up = None
        if self.is_prefix(self.token):
            modifier = self.advance()
            if self.token.start != modifier.end:
                raise self.error(f"expected a selection directly after {modifier.text!r}")
            up = self.reach(modifier)
        selection = self.primary()
        down = None
        if self.token.kind in ("+", "*") and self.token.start == self.tokens[self.index - 1].end:
            down = self.reach(self.advance())
        return selection if up is None and down is None else _traverse(selection, up, down, True)

    def is_prefix(self, token: _Token) -> bool:
        if token.kind == "+":
            return True
        # "*" alone means every asset; touching an operand, it means ancestors.
        following = self.peek()
        starts_operand = following.kind in ("(", "string") or (
            following.kind == "word" and not self.keyword(following)
        )
        return token.kind == "*" and following.start == token.end and starts_operand

    @staticmethod
    def reach(modifier: _Token) -> _Reach:
        return _Reach(None if modifier.kind == "*" else len(modifier.text))

    def primary(self) -> AssetSelection:
        token = self.token
        if token.kind == "*":
            self.advance()
            return _All()
        if token.kind == "(":
            self.advance()
            selection = self.expr()
            self.expect(
                ")", f"expected ')' to close the '(' at position {token.start}, or an operator"
            )
            return selection
        if token.kind == "string":
            return _Keys((self.advance().text,))
        if token.kind != "word" or self.keyword(token):
            raise self.error(_EXPECTED_SELECTION)
        following = self.peek()
        if following.kind == ":":
            return self.attribute()
        if token.text in _FUNCTIONS and following.kind == "(" and following.start == token.end:
            self.advance()
            self.advance()
            selection = self.expr()
            self.expect(")", f"expected ')' to close {token.text}(")
            return _FUNCTIONS[token.text](selection)
        return _Keys((self.advance().text,))

    def attribute(self) -> AssetSelection:
        name = self.advance()
        if name.text not in _ATTRIBUTES:
            known = ", ".join(f"'{attribute}:'" for attribute in _ATTRIBUTES)
            message = f"unknown attribute {name.text!r}; expected one of {known}"
            raise _syntax_error(self.text, name.start, message)
        self.advance()  # ":"
        value = self.value(f"{name.text}:")
        if self.token.kind != "=":
            return _ATTRIBUTES[name.text](value)
        if name.text != "tag":
            raise self.error("expected an operator ('=VALUE' is only allowed after 'tag:KEY')")
        self.advance()
        return _Tag(value, self.value(f"tag:{_render_value(value)}="))

    def value(self, after: str) -> str:
        if self.token.kind not in ("word", "string"):
            raise self.error(f"expected a value after {after!r}")
        return self.advance().text


def parse_selection(text: str) -> AssetSelection:
    """Parse a selection expression (syntax in this module's docstring).

    >>> str(parse_selection("+(group:raw) and not tag:deprecated"))
    '+group:raw & not tag:deprecated'

    Raises :class:`~rivers.exceptions.ConfigurationError` when ``text`` is
    malformed; the message shows the expression, the position and what was
    expected there. Unknown asset names are only detected when the selection
    is resolved against a graph.
    """
    if not isinstance(text, str):
        raise TypeError(f"parse_selection() takes a str; got {type(text).__name__}")
    return _Parser(text).parse()


def _coerce_item(item: Any, index: int) -> AssetSelection | str:
    """A selection for a sequence item, or the plain name it stands for."""
    if isinstance(item, AssetSelection):
        return item
    if isinstance(item, str):
        return item if _is_bare(item) else parse_selection(item)
    name = getattr(item, "name", None)
    if isinstance(name, str) and name:
        return name
    raise TypeError(
        f"selection item {index} is a {type(item).__name__}; items must be selection strings, "
        "AssetSelection objects or asset objects with a 'name' attribute"
    )


def normalize_selection(selection: SelectionLike | None) -> AssetSelection | None:
    """Turn a ``selection=`` argument into an :class:`AssetSelection`.

    - ``None`` stays ``None``: no restriction, every asset;
    - a ``str`` is parsed with :func:`parse_selection`;
    - an :class:`AssetSelection` is returned as is;
    - a sequence (or set) gives the union of its items, each a selection
      string, an :class:`AssetSelection` or an asset object with a ``name``;
      an empty sequence selects nothing.

    Anything else raises :class:`TypeError`. Plain names are gathered into one
    atom, so a list of many names resolves in linear time.
    """
    if selection is None or isinstance(selection, AssetSelection):
        return selection
    if isinstance(selection, str):
        return parse_selection(selection)
    if isinstance(selection, (Sequence, Set)) and not isinstance(selection, (bytes, bytearray)):
        names: list[str] = []
        parts: list[AssetSelection] = [_Keys(())]
        for index, item in enumerate(selection):
            coerced = _coerce_item(item, index)
            if isinstance(coerced, str):
                names.append(coerced)
            else:
                parts.append(coerced)
        parts[0] = _Keys(tuple(dict.fromkeys(names)))
        return _union(parts)
    raise TypeError(
        f"selection must be None, a selection string, an AssetSelection, or a sequence of "
        f"selection strings, AssetSelections and asset objects; got {type(selection).__name__}"
    )
