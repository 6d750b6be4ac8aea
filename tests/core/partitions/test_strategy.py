"""BackfillStrategy: factories, errors, reprs, equality, attributes, definition checks."""

from __future__ import annotations

import datetime as dt
import pickle

import pytest

from rivers.exceptions import ExecutionError, PartitionDefinitionError
from rivers.partitions import BackfillStrategy, PartitionsDefinition


def test_base_class_cannot_be_instantiated():
    with pytest.raises(TypeError, match="cannot create 'BackfillStrategy' instances"):
        BackfillStrategy()


def test_variants_and_reprs():
    assert isinstance(BackfillStrategy.multi_run(), BackfillStrategy.MultiRun)
    assert isinstance(BackfillStrategy.single_run(), BackfillStrategy.SingleRun)
    assert repr(BackfillStrategy.multi_run()) == "BackfillStrategy.multi_run()"
    assert repr(BackfillStrategy.single_run()) == "BackfillStrategy.single_run()"
    per = BackfillStrategy.per_dimension(multi_run=["d"], single_run=["r"])
    assert isinstance(per, BackfillStrategy.PerDimension)
    assert repr(per) == 'BackfillStrategy.per_dimension(multi_run=["d"], single_run=["r"])'


def test_per_dimension_attributes():
    per = BackfillStrategy.per_dimension(multi_run=["d", "e"], single_run=["r"])
    assert per.multi_run_dims == ["d", "e"] and per.single_run_dims == ["r"]
    assert per.multi_run == ["d", "e"] and per.single_run == ["r"]


def test_per_dimension_errors():
    with pytest.raises(PartitionDefinitionError, match="multi_run must contain at least one dimension"):
        BackfillStrategy.per_dimension(multi_run=[], single_run=["r"])
    with pytest.raises(PartitionDefinitionError, match="single_run must contain at least one dimension"):
        BackfillStrategy.per_dimension(multi_run=["d"], single_run=[])
    with pytest.raises(PartitionDefinitionError, match="dimension 'd' cannot be in both multi_run and single_run"):
        BackfillStrategy.per_dimension(multi_run=["d"], single_run=["r", "d"])
    with pytest.raises(TypeError):
        BackfillStrategy.per_dimension(multi_run="d", single_run=["r"])


def test_equality():
    assert BackfillStrategy.multi_run() == BackfillStrategy.multi_run()
    assert BackfillStrategy.multi_run() != BackfillStrategy.single_run()
    a = BackfillStrategy.per_dimension(multi_run=["d"], single_run=["r"])
    assert a == BackfillStrategy.per_dimension(multi_run=["d"], single_run=["r"])
    assert hash(a) == hash(BackfillStrategy.per_dimension(multi_run=["d"], single_run=["r"]))
    assert a != BackfillStrategy.per_dimension(multi_run=["r"], single_run=["d"])
    assert pickle.loads(pickle.dumps(a)) == a


def test_check_definition():
    per = BackfillStrategy.per_dimension(multi_run=["date"], single_run=["region"])
    days = PartitionsDefinition.daily(dt.datetime(2024, 1, 1), dt.datetime(2024, 1, 3))
    grid = PartitionsDefinition.multi({"date": days, "region": PartitionsDefinition.static_(["us"])})
    per.check_definition("a", grid)
    with pytest.raises(ExecutionError, match="requires Multi-partitioned assets; asset 'a' is not Multi-partitioned"):
        per.check_definition("a", days)
    bad = BackfillStrategy.per_dimension(multi_run=["date"], single_run=["nope"])
    with pytest.raises(ExecutionError, match="references dimension 'nope', which is not a dimension of asset 'a'"):
        bad.check_definition("a", grid)
