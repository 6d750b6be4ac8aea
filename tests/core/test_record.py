"""rivers._record.Record: the immutable value base of the run-path records."""

from __future__ import annotations

import pickle
from typing import Any, ClassVar

import pytest

from rivers._record import FrozenRecordError, Record, factory
from rivers.storage.records import AssetRecord, LaunchedBy, RunRecord


class Point(Record):
    kind: ClassVar[str] = "point"
    x: int
    y: int = 0
    tags: list[str] = factory(list)
    secret: str = "s"

    _hidden = frozenset({"secret"})


class Point3(Point):
    z: int = 0


class Positive(Record):
    value: int

    def _prepare(self, values: dict[str, Any]) -> None:
        if values["value"] <= 0:
            raise ValueError("value must be positive")
        values["value"] = int(values["value"])


def test_fields_defaults_and_factories():
    a, b = Point(1), Point(x=1, y=2)
    assert (a.x, a.y, a.tags) == (1, 0, [])
    assert b.y == 2
    assert a.tags is not Point(1).tags  # a fresh list per instance
    assert Point._fields == ("x", "y", "tags", "secret")  # ClassVar is not a field
    assert Point3._fields == ("x", "y", "tags", "secret", "z")


def test_wrong_arguments_are_type_errors():
    with pytest.raises(TypeError, match="missing required argument 'x'"):
        Point()
    with pytest.raises(TypeError, match="unexpected keyword argument 'w'"):
        Point(1, w=2)
    with pytest.raises(TypeError, match="multiple values for 'x'"):
        Point(1, x=2)
    with pytest.raises(TypeError, match="takes 4 arguments"):
        Point(1, 2, [], "s", 5)


def test_a_required_field_after_a_default_is_rejected_at_class_creation():
    with pytest.raises(TypeError, match="'b' without a default"):
        class Bad(Record):  # noqa: F841
            a: int = 0
            b: int


def test_frozen():
    p = Point(1)
    with pytest.raises(FrozenRecordError, match="evolve"):
        p.x = 2
    with pytest.raises(AttributeError):
        del p.y
    assert p.evolve(y=5) == Point(1, 5)
    assert p.y == 0


def test_equality_hash_and_repr():
    assert Point(1, 2) == Point(1, 2)
    assert Point(1, 2) != Point(1, 3)
    assert Point(1) != Point3(1)  # another class is never equal
    assert hash(LaunchedBy.schedule("d")) == hash(LaunchedBy.schedule("d"))
    assert repr(Point(1)) == "Point(x=1, y=0, tags=[])"  # hidden field left out


def test_prepare_converts_and_validates():
    assert Positive(True).value == 1 and type(Positive(True).value) is int
    with pytest.raises(ValueError, match="positive"):
        Positive(0)
    # every field by keyword takes the constructor's shortest path: _prepare still runs there
    assert type(Positive(value=True).value) is int
    with pytest.raises(ValueError, match="positive"):
        Positive(value=0)


def test_every_field_by_keyword_is_the_same_record_as_positionally():
    by_keyword = Point3(x=1, y=2, tags=["t"], secret="s", z=3)
    assert by_keyword == Point3(1, 2, ["t"], "s", 3)
    assert by_keyword.as_dict() == {"x": 1, "y": 2, "tags": ["t"], "secret": "s", "z": 3}
    assert Point3(z=3, secret="s", tags=[], y=2, x=1).as_dict() == {"x": 1, "y": 2, "tags": [], "secret": "s", "z": 3}
    with pytest.raises(TypeError, match="unexpected keyword argument 'w'"):
        Point(x=1, y=2, tags=[], w=4)  # as many keywords as fields, one of them unknown


def test_pickle_round_trip():
    record = RunRecord("r1", partition_key="2024-01-01", tags=[("a", "b")])
    assert pickle.loads(pickle.dumps(record)) == record


def test_to_plain_is_json_ready():
    class Outer(Record):
        inner: Point
        pairs: tuple[tuple[str, int], ...]

    assert Outer(Point(1), (("a", 1),)).to_plain() == {
        "inner": {"x": 1, "y": 0, "tags": [], "secret": "s"},
        "pairs": [["a", 1]],
    }


def test_launched_by_kind_is_validated():
    with pytest.raises(ValueError, match="manual"):
        LaunchedBy("nobody")


def test_from_fields_takes_every_field_as_it_is():
    point = Point.from_fields(3, 4, ["t"], "hidden")
    assert point == Point(3, 4, ["t"], "hidden") and point.tags == ["t"]
    with pytest.raises(FrozenRecordError):
        point.x = 1  # type: ignore[misc]
    with pytest.raises(TypeError, match=r"Point.from_fields\(\) takes 4 values, got 2"):
        Point.from_fields(1, 2)


def test_declared_asset_record_equals_the_constructors():
    declared = AssetRecord.declared("a", ["t"], ["python"], "g", "v1", [("db", 1)])
    assert declared == AssetRecord(asset_key="a", tags=["t"], kinds=["python"], group="g", code_version="v1",
                                   pool=[("db", 1)])
    assert declared.last_event_id is None and declared.last_input_data_versions == []
