"""Tests of rivers.selection: the AssetSelection algebra and its string syntax."""

from __future__ import annotations

import doctest
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import pytest

import rivers.selection
from rivers.exceptions import AssetNotFoundError, ConfigurationError
from rivers.selection import (
    AssetSelection as AS,
    SelectableGraph,
    normalize_selection,
    parse_selection,
)


@dataclass
class Node:
    deps: tuple[str, ...] = ()
    group: str | None = None
    tags: tuple[str, ...] = ()
    kinds: tuple[str, ...] = ()


@dataclass
class FakeGraph:
    """A minimal SelectableGraph: nodes given in topological order."""

    nodes: dict[str, Node]
    hidden_parents: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._children: dict[str, list[str]] = {name: [] for name in self.nodes}
        for name, node in self.nodes.items():
            for dep in node.deps:
                self._children.setdefault(dep, []).append(name)

    @property
    def names(self) -> Sequence[str]:
        return list(self.nodes)

    def group_of(self, name: str) -> str | None:
        return self.nodes[name].group

    def tags_of(self, name: str) -> Sequence[str]:
        return self.nodes[name].tags

    def kinds_of(self, name: str) -> Sequence[str]:
        return self.nodes[name].kinds

    def parents(self, name: str) -> Iterable[str]:
        if name in self.hidden_parents:
            return self.hidden_parents[name]
        return self.nodes[name].deps if name in self.nodes else ()

    def children(self, name: str) -> Iterable[str]:
        return self._children.get(name, ())


#   raw_orders   raw_customers        pipeline/step_a
#       |             |                     |
#     orders      customers           pipeline/step_b
#          \       /
#        order_summary
#              |
#            report
#              |
#           archive
GRAPH = FakeGraph(
    {
        "raw_orders": Node(group="raw", tags=("etl",), kinds=("duckdb",)),
        "raw_customers": Node(group="raw", tags=("etl", "team=data"), kinds=("duckdb", "csv")),
        "orders": Node(("raw_orders",), group="staging", kinds=("pandas",)),
        "customers": Node(("raw_customers",), group="staging", tags=("team=ops",)),
        "order_summary": Node(
            ("orders", "customers"), group="marts", tags=("team=data",), kinds=("duckdb",)
        ),
        "report": Node(("order_summary",), group="marts", tags=("team",)),
        "archive": Node(("report",), group="cold"),
        "pipeline/step_a": Node(group="pipeline"),
        "pipeline/step_b": Node(("pipeline/step_a",), group="pipeline"),
    }
)
ALL = list(GRAPH.names)


def resolve(selection: str | AS) -> list[str]:
    if isinstance(selection, str):
        selection = parse_selection(selection)
    return selection.resolve(GRAPH)


def test_fake_graph_satisfies_the_protocol() -> None:
    graph: SelectableGraph = GRAPH  # checked by type checkers
    assert graph.names[0] == "raw_orders"


# -- atoms --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("orders", ["orders"]),
        ("key:orders", ["orders"]),
        ('key:"orders"', ["orders"]),
        ('"orders"', ["orders"]),
        ("pipeline/step_a", ["pipeline/step_a"]),
        ("*", ALL),
        ("group:raw", ["raw_orders", "raw_customers"]),
        ("group:nope", []),
        ("tag:etl", ["raw_orders", "raw_customers"]),
        ("tag:team=data", ["raw_customers", "order_summary"]),
        ('tag:"team"="data"', ["raw_customers", "order_summary"]),
        ("tag:team", ["report"]),  # exact tag string, like Dagster's tag:KEY
        ("kind:duckdb", ["raw_orders", "raw_customers", "order_summary"]),
        ("kind:csv", ["raw_customers"]),
    ],
)
def test_atoms(expression: str, expected: list[str]) -> None:
    assert resolve(expression) == expected


def test_python_constructors_match_the_syntax() -> None:
    assert AS.all() == parse_selection("*")
    assert AS.assets("orders") == parse_selection("orders")
    assert AS.groups("raw") == parse_selection("group:raw")
    assert AS.tag("etl") == parse_selection("tag:etl")
    assert AS.tag("team", "data") == parse_selection("tag:team=data")
    assert AS.kinds("duckdb") == parse_selection("kind:duckdb")
    assert AS.groups("raw", "marts") == parse_selection("group:raw | group:marts")
    assert AS.kinds("csv", "pandas").resolve(GRAPH) == ["raw_customers", "orders"]
    assert AS.assets("report", "orders").resolve(GRAPH) == ["orders", "report"]


def test_assets_accepts_asset_objects() -> None:
    @dataclass
    class Asset:
        name: str

    assert AS.assets(Asset("orders"), "report") == AS.assets("orders", "report")
    with pytest.raises(TypeError, match="asset names or asset objects"):
        AS.assets(42)


def test_constructors_reject_non_strings() -> None:
    with pytest.raises(TypeError, match=r"AssetSelection.groups\(\) takes group names"):
        AS.groups(["raw", "marts"])  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="tag key"):
        AS.tag("")


def test_empty_selection() -> None:
    assert AS.assets().resolve(GRAPH) == []
    assert normalize_selection([]) == AS.assets()
    assert (AS.assets() | AS.assets("orders")) == AS.assets("orders")


# -- modifiers ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("+orders", ["raw_orders", "orders"]),
        ("+order_summary", ["orders", "customers", "order_summary"]),
        ("++order_summary", ALL[:5]),
        ("++report", ["orders", "customers", "order_summary", "report"]),
        ("*report", ALL[:6]),
        ("orders+", ["orders", "order_summary"]),
        ("orders++", ["orders", "order_summary", "report"]),
        ("orders*", ["orders", "order_summary", "report", "archive"]),
        ("+order_summary+", ["orders", "customers", "order_summary", "report"]),
        ("*orders*", ["raw_orders", "orders", "order_summary", "report", "archive"]),
        ("pipeline/step_a+", ["pipeline/step_a", "pipeline/step_b"]),
        ("+(group:staging)", ["raw_orders", "raw_customers", "orders", "customers"]),
        ("group:raw*", ALL[:7]),
        ("(orders | customers)+", ["orders", "customers", "order_summary"]),
        ("tag:team=data+", ["raw_customers", "customers", "order_summary", "report"]),
        ("key:report+", ["report", "archive"]),
        ("(+report)+", ["order_summary", "report", "archive"]),
        ("+report+", ["order_summary", "report", "archive"]),
        ("(report+)+", ["report", "archive"]),
        ("+++raw_orders", ["raw_orders"]),
    ],
)
def test_modifiers(expression: str, expected: list[str]) -> None:
    assert resolve(expression) == expected


def test_multi_level_depth_in_python() -> None:
    report = AS.assets("report")
    assert report.upstream(1).resolve(GRAPH) == ["order_summary", "report"]
    assert report.upstream(2) == parse_selection("++report")
    assert report.upstream(3).resolve(GRAPH) == ALL[:6]
    assert report.upstream() == parse_selection("*report")
    assert report.upstream(0) == report
    assert AS.assets("raw_orders").downstream(2).resolve(GRAPH) == [
        "raw_orders",
        "orders",
        "order_summary",
    ]
    assert AS.assets("raw_orders").downstream(3) == parse_selection("raw_orders+++")


def test_include_self_false_removes_the_whole_selection() -> None:
    staging = AS.groups("staging")
    assert staging.upstream(include_self=False).resolve(GRAPH) == ["raw_orders", "raw_customers"]
    # orders is a parent of nothing selected here but is itself selected: it is removed
    chain = AS.assets("orders", "order_summary")
    assert chain.upstream(1, include_self=False).resolve(GRAPH) == ["raw_orders", "customers"]
    assert chain.downstream(include_self=False).resolve(GRAPH) == ["report", "archive"]
    assert AS.assets("report").downstream(0, include_self=False).resolve(GRAPH) == []


def test_depth_must_be_a_non_negative_int() -> None:
    with pytest.raises(ConfigurationError, match="non-negative"):
        AS.all().upstream(-1)
    with pytest.raises(TypeError, match="depth"):
        AS.all().downstream("2")  # type: ignore[arg-type]


def test_multi_source_depth_counts_from_the_nearest_seed() -> None:
    # report is 1 level above archive, raw_orders 4; depth 1 reaches each one's parents
    seeds = AS.assets("raw_orders", "archive")
    assert seeds.upstream(1).resolve(GRAPH) == ["raw_orders", "report", "archive"]


def test_traversal_crosses_nodes_that_are_not_selectable() -> None:
    graph = FakeGraph(
        {"a": Node(), "c": Node(("a",))},
        hidden_parents={"c": ("b",), "b": ("a",)},  # c <- b (not selectable) <- a
    )
    assert parse_selection("++c").resolve(graph) == ["a", "c"]
    assert parse_selection("+c").resolve(graph) == ["c"]


def test_roots_and_sinks() -> None:
    assert resolve("roots(*report)") == ["raw_orders", "raw_customers"]
    assert resolve("sinks(group:raw*)") == ["archive"]
    staging_and_marts = AS.groups("staging", "marts")
    assert staging_and_marts.roots().resolve(GRAPH) == ["orders", "customers"]
    assert staging_and_marts.sinks().resolve(GRAPH) == ["report"]
    assert staging_and_marts.roots() == parse_selection("roots(group:staging | group:marts)")
    assert AS.assets("report").sinks() == parse_selection("sinks(report)")


# -- operators, precedence, keywords ------------------------------------------------


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("orders | report", ["orders", "report"]),
        ("group:raw & tag:team=data", ["raw_customers"]),
        ("*report - group:raw", ["orders", "customers", "order_summary", "report"]),
        # & binds tighter than | and -
        ("group:raw | group:marts & tag:team", ["raw_orders", "raw_customers", "report"]),
        ("group:raw & tag:etl | report", ["raw_orders", "raw_customers", "report"]),
        ("* - group:raw & tag:team=data", [ALL[0], *ALL[2:]]),
        ("(* - group:raw) & kind:duckdb", ["order_summary"]),
        # | and - share a level and associate to the left
        ("group:raw | orders - raw_orders", ["raw_customers", "orders"]),
        ("group:raw - raw_orders | raw_orders", ["raw_orders", "raw_customers"]),
        ("* - group:marts - group:raw - pipeline/step_a", [*ALL[2:4], "archive", ALL[8]]),
        # parentheses override
        ("(group:raw | group:marts) & tag:team", ["report"]),
        ("group:raw | (orders - raw_orders)", ["raw_orders", "raw_customers", "orders"]),
        ("group:raw - (raw_orders | raw_customers)", []),
        ("((orders))", ["orders"]),
        # keywords
        ("orders or report", ["orders", "report"]),
        ("group:raw and tag:team=data", ["raw_customers"]),
        ("not group:raw and not group:marts", ["orders", "customers", "archive", *ALL[7:]]),
        ("not orders*", ["raw_orders", "raw_customers", "customers", *ALL[7:]]),
        ("not not orders", ["orders"]),
        ("not (orders | customers) & group:staging", []),
        ("not orders | orders", ALL),
        ("group:raw AND tag:etl OR report", ["raw_orders", "raw_customers", "report"]),
        ("NOT *", []),
    ],
)
def test_operators(expression: str, expected: list[str]) -> None:
    assert resolve(expression) == expected


def test_keywords_are_names_only_after_key() -> None:
    assert parse_selection("key:and | key:OR") == AS.assets("and", "OR")
    assert parse_selection('key:"not"') == AS.assets("not")
    assert parse_selection("android | order") == AS.assets("android", "order")


def test_python_operators_match_the_syntax() -> None:
    raw, marts, team = AS.groups("raw"), AS.groups("marts"), AS.tag("team")
    assert (raw | marts & team) == parse_selection("group:raw | group:marts & tag:team")
    assert ((raw | marts) & team) == parse_selection("(group:raw | group:marts) & tag:team")
    assert (AS.all() - raw) == parse_selection("not group:raw")
    assert (raw - marts - team) == parse_selection("group:raw - group:marts - tag:team")
    assert (raw - (marts - team)) != (raw - marts - team)
    with pytest.raises(TypeError):
        raw | "orders"  # type: ignore[operator]


def test_selections_are_immutable_and_hashable() -> None:
    selection = AS.groups("raw")
    with pytest.raises(AttributeError):
        selection.values = ("marts",)  # type: ignore[attr-defined]
    assert len({AS.groups("raw"), parse_selection("group:raw"), AS.groups("marts")}) == 2


def test_dash_inside_a_name_belongs_to_the_name() -> None:
    graph = FakeGraph({"raw-orders": Node(), "raw": Node(), "orders": Node(), "a--b": Node()})
    assert parse_selection("raw-orders").resolve(graph) == ["raw-orders"]
    assert parse_selection("a--b").resolve(graph) == ["a--b"]
    assert parse_selection("raw - orders") == AS.assets("raw") - AS.assets("orders")
    assert parse_selection("raw -orders") == AS.assets("raw") - AS.assets("orders")
    assert parse_selection("raw- orders") == AS.assets("raw") - AS.assets("orders")
    assert parse_selection("(raw)-(orders)") == AS.assets("raw") - AS.assets("orders")


def test_star_alone_versus_touching() -> None:
    assert parse_selection("* - orders") == AS.all() - AS.assets("orders")
    assert parse_selection("*orders") == AS.assets("orders").upstream()
    assert parse_selection("*(orders)") == AS.assets("orders").upstream()
    assert parse_selection("orders*") == AS.assets("orders").downstream()
    assert parse_selection("(*) - orders") == AS.all() - AS.assets("orders")


# -- rendering -------------------------------------------------------------------


GRAPH_FOR_ROUNDTRIP = FakeGraph(
    {
        "a": Node(group="g", kinds=("x",)),
        "b": Node(("a",), kinds=("x",)),
        "c": Node(("b",), group="raw"),
        "odd name": Node(("c",), group="marts", tags=("team=data",)),
        "and": Node(("a",), tags=('quote"d',)),
        "orders": Node(),
        "pipeline/step_a": Node(("orders",)),
    }
)


@pytest.mark.parametrize(
    ("selection", "text"),
    [
        (AS.all(), "*"),
        (AS.assets("orders", "pipeline/step_a"), "orders | pipeline/step_a"),
        (AS.assets("odd name", "and"), 'key:"odd name" | key:"and"'),
        (AS.tag("team", "data"), "tag:team=data"),
        (AS.tag('quote"d'), 'tag:"quote\\"d"'),
        (AS.groups("raw").downstream(2), "group:raw++"),
        (AS.groups("raw", "marts").upstream(), "*(group:raw | group:marts)"),
        (AS.assets("a").upstream(1).downstream(1), "(+a)+"),
        (AS.assets("a").upstream(include_self=False), "*a - a"),
        ((AS.assets("a") | AS.assets("b")) & AS.kinds("x"), "(a | b) & kind:x"),
        (AS.assets("a") - (AS.assets("b") | AS.groups("g")), "a - (b | group:g)"),
        (AS.assets("a") - (AS.assets("b") - AS.assets("c")), "a - (b - c)"),
        (AS.all() - (AS.assets("a") & AS.assets("b")), "not (a & b)"),
        (AS.groups("g") | (AS.assets("a") - AS.assets("b")), "group:g | (a - b)"),
        (AS.assets("a").roots(), "roots(a)"),
        (AS.assets(), "not *"),
    ],
)
def test_str_shows_the_expression(selection: AS, text: str) -> None:
    assert str(selection) == text
    assert repr(selection) == f"<AssetSelection {text}>"
    graph = GRAPH_FOR_ROUNDTRIP
    assert parse_selection(text).resolve(graph) == selection.resolve(graph)


@pytest.mark.parametrize(
    "expression",
    [
        "a | b - c & group:g",
        "not a & b | c",
        "+(a | b)* - roots(c)",
        "(a - b) | (c - a)",
        "a - b - c",
        "sinks(not a)",
        "tag:k=v & kind:x",
    ],
)
def test_str_round_trips(expression: str) -> None:
    selection = parse_selection(expression)
    assert parse_selection(str(selection)) == selection


def test_module_doctests() -> None:
    failures, tried = doctest.testmod(rivers.selection)
    assert tried > 0
    assert failures == 0


# -- unknown names ------------------------------------------------------------------


def test_unknown_asset_with_suggestion() -> None:
    with pytest.raises(AssetNotFoundError) as info:
        resolve("reprt | orders")
    assert str(info.value) == "Selection contains unknown asset: 'reprt'. Did you mean 'report'?"


def test_unknown_asset_with_several_suggestions() -> None:
    with pytest.raises(AssetNotFoundError) as info:
        resolve("ordrs | report")
    assert str(info.value) == (
        "Selection contains unknown asset: 'ordrs'. Did you mean one of 'orders', 'raw_orders'?"
    )


def test_unknown_asset_without_suggestion() -> None:
    with pytest.raises(AssetNotFoundError) as info:
        AS.assets("zzz").resolve(GRAPH)
    assert str(info.value) == "Selection contains unknown asset: 'zzz'"


def test_unknown_assets_are_all_listed() -> None:
    with pytest.raises(AssetNotFoundError, match="Also unknown: 'yyy'"):
        resolve("zzz | yyy")


@pytest.mark.parametrize(
    "expression", ["+nope", "group:raw & nope", "nope & group:nope", "* - nope", "roots(nope)"]
)
def test_unknown_asset_is_reported_anywhere_in_the_expression(expression: str) -> None:
    with pytest.raises(AssetNotFoundError, match="Selection contains unknown asset: 'nope'"):
        resolve(expression)


def test_unknown_group_selects_nothing() -> None:
    assert resolve("group:missing | orders") == ["orders"]


# -- malformed expressions ------------------------------------------------------------


@pytest.mark.parametrize(
    ("expression", "position", "expected"),
    [
        ("", 0, "expected an asset name"),
        ("   ", 3, "expected an asset name"),
        ("orders |", 8, "expected an asset name"),
        ("| orders", 0, "expected an asset name"),
        ("orders report", 7, "expected '|', '&', '-', 'or', 'and' or the end"),
        ("orders + report", 7, "expected '|', '&', '-'"),
        ("+ orders", 2, "expected a selection directly after '+'"),
        ("(orders", 7, "expected ')' to close the '(' at position 0"),
        ("(orders | (report)", 18, "expected ')' to close the '(' at position 0"),
        ("orders)", 6, "expected '|', '&', '-'"),
        ("()", 1, "expected an asset name"),
        ("owner:me", 0, "unknown attribute 'owner'"),
        ("group:", 6, "expected a value after 'group:'"),
        ("group:(raw)", 6, "expected a value after 'group:'"),
        ("tag:team=", 9, "expected a value after 'tag:team='"),
        ("group:raw=x", 9, "'=VALUE' is only allowed after 'tag:KEY'"),
        ('key:"unterminated', 4, "unterminated string"),
        ("orders, report", 6, "unexpected character ','"),
        ("orders and", 10, "expected an asset name"),
        ("and orders", 0, "found 'and'"),
        ("not", 3, "expected an asset name"),
        ("roots(orders", 12, "expected ')' to close roots("),
        ("orders & & report", 9, "expected an asset name"),
    ],
)
def test_malformed_expressions(expression: str, position: int, expected: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        parse_selection(expression)
    message = str(info.value)
    assert repr(expression) in message
    assert f"at position {position}" in message
    assert expected in message
    # the expression is echoed with a caret under the position
    expression_line, caret_line = message.splitlines()[-2:]
    assert caret_line.index("^") - 2 == position
    assert expression_line.strip() == expression.strip()


def test_malformed_expression_error_is_not_a_value_error() -> None:
    with pytest.raises(ConfigurationError) as info:
        parse_selection("a |")
    assert not isinstance(info.value, ValueError)


def test_parse_selection_rejects_non_strings() -> None:
    with pytest.raises(TypeError, match="takes a str"):
        parse_selection(["orders"])  # type: ignore[arg-type]


# -- normalize_selection ------------------------------------------------------------------


@dataclass
class FakeAsset:
    name: str


def test_normalize_none_means_everything() -> None:
    assert normalize_selection(None) is None


def test_normalize_string_and_selection() -> None:
    assert normalize_selection("group:raw+") == AS.groups("raw").downstream(1)
    selection = AS.kinds("duckdb")
    assert normalize_selection(selection) is selection


def test_normalize_sequence_is_the_union_of_its_items() -> None:
    items = ["report", FakeAsset("orders"), "group:raw", AS.tag("team", "ops")]
    selection = normalize_selection(items)
    assert selection is not None
    assert selection.resolve(GRAPH) == [*ALL[:4], "report"]
    assert selection == AS.assets("report", "orders") | AS.groups("raw") | AS.tag("team", "ops")


def test_normalize_accepts_tuples_and_sets_and_deduplicates() -> None:
    assert normalize_selection(("orders", "orders")) == AS.assets("orders")
    selection = normalize_selection({"report", "orders"})
    assert selection is not None
    assert selection.resolve(GRAPH) == ["orders", "report"]


def test_normalize_items_are_expressions() -> None:
    selection = normalize_selection(["+orders", "not *"])
    assert selection is not None
    assert selection.resolve(GRAPH) == ["raw_orders", "orders"]
    with pytest.raises(ConfigurationError, match="at position 0"):
        normalize_selection(["orders", "| bad"])


@pytest.mark.parametrize(
    "bad", [42, b"orders", {"a": 1}, FakeAsset("orders"), (x for x in ["orders"])]
)
def test_normalize_rejects_other_types(bad: object) -> None:
    with pytest.raises(TypeError, match=f"got {type(bad).__name__}") as info:
        normalize_selection(bad)  # type: ignore[arg-type]
    assert "AssetSelection" in str(info.value)


@pytest.mark.parametrize("bad_item", [42, None, ["orders"], FakeAsset("")])
def test_normalize_rejects_bad_items(bad_item: object) -> None:
    with pytest.raises(TypeError, match=f"selection item 1 is a {type(bad_item).__name__}"):
        normalize_selection(["orders", bad_item])


def test_normalize_unknown_names_are_reported_on_resolve() -> None:
    selection = normalize_selection(["orders", FakeAsset("archiv")])
    assert selection is not None
    expected = r"unknown asset: 'archiv'\. Did you mean 'archive'\?"
    with pytest.raises(AssetNotFoundError, match=expected):
        selection.resolve(GRAPH)


# -- ordering and performance --------------------------------------------------------------


def test_results_follow_the_graph_order_not_the_selection_order() -> None:
    assert resolve("archive | raw_orders | report") == ["raw_orders", "report", "archive"]
    selection = normalize_selection(["pipeline/step_b", "raw_orders"])
    assert selection is not None
    assert selection.resolve(GRAPH) == ["raw_orders", "pipeline/step_b"]


class NoScanList(list[str]):
    """A names list that fails on linear membership tests or index lookups."""

    def __contains__(self, item: object) -> bool:
        raise AssertionError("linear scan of the graph's names")

    def index(self, *args: object) -> int:
        raise AssertionError("linear scan of the graph's names")


class ChainGraph:
    """n0 -> n1 -> ... -> n{size-1}, counting how often ``names`` is read."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.names_reads = 0
        self._names = NoScanList(f"n{i}" for i in range(size))

    @property
    def names(self) -> Sequence[str]:
        self.names_reads += 1
        return self._names

    def group_of(self, name: str) -> str | None:
        return None

    def tags_of(self, name: str) -> Sequence[str]:
        return ()

    def kinds_of(self, name: str) -> Sequence[str]:
        return ()

    def parents(self, name: str) -> Iterable[str]:
        index = int(name[1:])
        return (f"n{index - 1}",) if index else ()

    def children(self, name: str) -> Iterable[str]:
        index = int(name[1:])
        return (f"n{index + 1}",) if index + 1 < self.size else ()


def test_resolving_ten_thousand_names_is_linear() -> None:
    graph = ChainGraph(10_000)
    wanted = [f"n{i}" for i in reversed(range(10_000))]
    start = time.perf_counter()
    selection = normalize_selection(wanted)
    assert selection is not None
    result = selection.resolve(graph)
    elapsed = time.perf_counter() - start
    assert result == list(graph._names)
    assert graph.names_reads == 1
    assert elapsed < 2.0  # quadratic work (10^8 steps) would take far longer


def test_long_expressions_parse_and_resolve() -> None:
    graph = ChainGraph(10_000)
    text = " | ".join(f"n{i}" for i in range(0, 10_000, 2))
    selection = parse_selection(text)
    assert selection == AS.assets(*(f"n{i}" for i in range(0, 10_000, 2)))
    assert len(selection.resolve(graph)) == 5_000
    minus = parse_selection("* - " + " - ".join(f"n{i}" for i in range(1, 10_000, 2)))
    assert minus.resolve(graph) == [f"n{i}" for i in range(0, 10_000, 2)]


def test_closures_over_a_long_chain() -> None:
    graph = ChainGraph(10_000)
    assert parse_selection("*n9999").resolve(graph) == list(graph._names)
    assert parse_selection("n0*").resolve(graph) == list(graph._names)
    assert AS.assets("n5000").upstream(3).resolve(graph) == ["n4997", "n4998", "n4999", "n5000"]
    assert parse_selection("roots(*n9999) | sinks(n0*)").resolve(graph) == ["n0", "n9999"]
