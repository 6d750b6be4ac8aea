"""resolve_upstream: which upstream partitions a step loads, for every mapping and the defaults."""

from __future__ import annotations

import datetime as dt

import pytest

from rivers.exceptions import PartitionValidationError
from rivers.partitions import PartitionKeyRange
from rivers.partitions.mappings.resolution import UpstreamLoad, resolve_upstream
from mapping_definitions import AB, ABC, CUSTOMERS, DAILY, DATE_REGION, HOURLY, PD, REGIONS, K, M

REGISTERED = {"cust": ["acme", "globex", "initech"], "empty": []}


def registered(name):
    return REGISTERED[name]


def keys(*values):
    return [K.single(value) for value in values]


def loads(mapping, downstream_keys, downstream_def, upstream_def, **kwargs):
    """The keys loaded (asserting the result is a load)."""
    result = resolve_upstream(mapping, downstream_keys, downstream_def, upstream_def, **kwargs)
    assert result.is_load, result
    return result.keys


def mk(date, region):
    return K.multi({"date": date, "region": region})


# --- UpstreamLoad ------------------------------------------------------------------------------


def test_upstream_load_variants():
    load = UpstreamLoad.load(keys("a"))
    assert load.is_load and not load.is_none and not load.is_unpartitioned
    assert load.keys == keys("a")
    assert load == UpstreamLoad.load(keys("a"))
    assert repr(load) == 'UpstreamLoad.load([PartitionKey("a")])'
    assert UpstreamLoad.load_unpartitioned().is_unpartitioned
    assert UpstreamLoad.load_unpartitioned().keys is None
    assert repr(UpstreamLoad.load_unpartitioned()) == "UpstreamLoad.load_unpartitioned()"
    assert UpstreamLoad.inject_none().is_none
    assert repr(UpstreamLoad.inject_none()) == "UpstreamLoad.inject_none()"
    assert UpstreamLoad.inject_none() != UpstreamLoad.load_unpartitioned()
    with pytest.raises(ValueError, match="at least one key"):
        UpstreamLoad.load([])


# --- Identity / default ----------------------------------------------------------------------------


def test_identity_and_no_mapping_load_the_same_key():
    assert loads(None, keys("a"), AB, AB) == keys("a")
    assert loads(M.identity(), keys("b"), AB, ABC) == keys("b")
    assert loads(None, keys("b"), AB, ABC) == keys("b")
    assert loads(None, [mk("2024-01-02", "eu")], DATE_REGION, DATE_REGION) == [mk("2024-01-02", "eu")]


def test_default_between_different_time_grids_loads_the_overlapping_windows():
    loaded = loads(None, keys("2024-01-02"), DAILY, HOURLY)
    assert [str(key) for key in loaded] == [f"2024-01-02T{hour:02d}:00" for hour in range(24)]
    assert loads(None, keys("2024-01-02T05:00"), HOURLY, DAILY) == keys("2024-01-02")


def test_default_overlap_stays_within_the_upstream_range():
    # only the part of the upstream grid that exists is loaded
    late = PD.hourly(dt.datetime(2024, 1, 2, 12), dt.datetime(2024, 1, 3))
    loaded = loads(None, keys("2024-01-02"), DAILY, late)
    assert [str(key) for key in loaded][:2] == ["2024-01-02T12:00", "2024-01-02T13:00"]


def test_default_overlap_with_no_upstream_window_fails():
    with pytest.raises(PartitionValidationError, match="outside the upstream range"):
        resolve_upstream(None, keys("2024-01-05"), DAILY, HOURLY)


def test_default_multi_to_single_both_directions():
    assert loads(None, [mk("2024-01-03", "us")], DATE_REGION, DAILY) == keys("2024-01-03")
    assert loads(None, keys("2024-01-03"), DAILY, DATE_REGION) == [mk("2024-01-03", "us"), mk("2024-01-03", "eu")]


def test_default_multi_to_multi_per_dimension():
    upstream = PD.multi({"date": HOURLY, "region": REGIONS})
    loaded = loads(None, [mk("2024-01-02", "eu")], DATE_REGION, upstream)
    assert len(loaded) == 24
    assert loaded[0] == mk("2024-01-02T00:00", "eu")


def test_no_default_fits_fails_at_run_time():
    with pytest.raises(PartitionValidationError, match="no default partition mapping fits"):
        resolve_upstream(None, keys("a"), AB, DAILY)


# --- TimeWindow ----------------------------------------------------------------------------------


def test_time_window_offset_on_the_same_grid():
    assert loads(M.time_window(-1), keys("2024-01-03"), DAILY, DAILY) == keys("2024-01-02")
    assert loads(M.time_window(2), keys("2024-01-03"), DAILY, DAILY) == keys("2024-01-05")
    assert loads(M.time_window(0), keys("2024-01-03"), DAILY, DAILY) == keys("2024-01-03")


def test_time_window_outside_the_upstream_range_names_offset_key_and_range():
    with pytest.raises(PartitionValidationError) as info:
        resolve_upstream(M.time_window(-1), keys("2024-01-01"), DAILY, DAILY)
    message = str(info.value)
    assert "offset=-1" in message and "'2024-01-01'" in message
    assert "['2024-01-01' .. '2024-01-07']" in message
    with pytest.raises(PartitionValidationError, match="offset=1"):
        resolve_upstream(M.time_window(1), keys("2024-01-07"), DAILY, DAILY)


def test_time_window_offset_between_different_grids_steps_on_the_upstream_grid():
    loaded = loads(M.time_window(-1), keys("2024-01-02"), DAILY, HOURLY)
    assert [str(key) for key in loaded] == [
        "2024-01-01T23:00",
        *(f"2024-01-02T{hour:02d}:00" for hour in range(23)),
    ]
    assert loads(M.time_window(-1), keys("2024-01-02T05:00"), HOURLY, DAILY) == keys("2024-01-01")


def test_time_window_requires_time_windows():
    with pytest.raises(PartitionValidationError, match="TimeWindow partitions on downstream"):
        resolve_upstream(M.time_window(0), keys("a"), AB, DAILY)


def test_time_window_with_zones():
    berlin = PD.daily(dt.datetime(2024, 3, 30), dt.datetime(2024, 4, 2), timezone="Europe/Berlin")
    utc_hours = PD.hourly(dt.datetime(2024, 3, 30), dt.datetime(2024, 4, 2), timezone="UTC")
    loaded = loads(None, keys("2024-03-31"), berlin, utc_hours)
    # the DST day in Berlin has 23 hours: 2024-03-30T23:00Z .. 2024-03-31T21:00Z
    assert len(loaded) == 23
    assert (str(loaded[0]), str(loaded[-1])) == ("2024-03-30T23:00", "2024-03-31T21:00")


# --- Static ----------------------------------------------------------------------------------------


def test_static_maps_listed_keys_and_passes_others_through():
    mapping = M.static_({"a": "c"})
    assert loads(mapping, keys("a"), AB, ABC) == keys("c")
    assert loads(mapping, keys("b"), AB, ABC) == keys("b")


def test_static_on_multi_definitions():
    mapping = M.static_({"date=2024-01-02|region=eu": "date=2024-01-01|region=us"})
    assert loads(mapping, [mk("2024-01-02", "eu")], DATE_REGION, DATE_REGION) == [mk("2024-01-01", "us")]


# --- AllPartitions ----------------------------------------------------------------------------------


def test_all_partitions_loads_every_upstream_key():
    assert loads(M.all_partitions(), keys("a"), AB, ABC) == keys("a", "b", "c")
    assert loads(M.all_partitions(), None, None, ABC) == keys("a", "b", "c")
    assert len(loads(M.all_partitions(), keys("a"), AB, HOURLY)) == 48


def test_all_partitions_with_dynamic_upstream_uses_dynamic_partitions():
    loaded = loads(M.all_partitions(), None, None, CUSTOMERS, dynamic_partitions=registered)
    assert loaded == keys("acme", "globex", "initech")
    with pytest.raises(PartitionValidationError, match="dynamic_partitions"):
        resolve_upstream(M.all_partitions(), None, None, CUSTOMERS)


def test_all_partitions_of_nothing_injects_none():
    result = resolve_upstream(M.all_partitions(), None, None, PD.dynamic("empty"), dynamic_partitions=registered)
    assert result == UpstreamLoad.inject_none()


def test_all_partitions_of_unpartitioned_upstream_loads_the_value():
    assert resolve_upstream(M.all_partitions(), keys("a"), AB, None) == UpstreamLoad.load_unpartitioned()


# --- SpecificPartitions ---------------------------------------------------------------------------


def test_specific_partitions_loads_the_listed_keys_in_upstream_order():
    assert loads(M.specific_partitions(["c", "a"]), None, None, ABC) == keys("a", "c")
    assert loads(M.specific_partitions(["date=2024-01-02|region=us"]), None, None, DATE_REGION) == [
        mk("2024-01-02", "us")
    ]


def test_specific_partitions_dynamic_order_follows_the_registration():
    loaded = loads(M.specific_partitions(["initech", "acme"]), None, None, CUSTOMERS, dynamic_partitions=registered)
    assert loaded == keys("acme", "initech")


# --- ForKeys ---------------------------------------------------------------------------------


def test_for_keys_loads_the_unpartitioned_upstream_for_selected_keys_only():
    mapping = M.for_keys([K.single("a")])
    assert resolve_upstream(mapping, keys("a"), AB, None) == UpstreamLoad.load_unpartitioned()
    assert resolve_upstream(mapping, keys("b"), AB, None) == UpstreamLoad.inject_none()
    by_range = M.for_keys([PartitionKeyRange.single("2024-01-03", "2024-01-04")])
    assert resolve_upstream(by_range, keys("2024-01-04"), DAILY, None).is_unpartitioned
    assert resolve_upstream(by_range, keys("2024-01-05"), DAILY, None).is_none


def test_for_keys_batched_step_loads_when_any_member_matches():
    mapping = M.for_keys([K.single("b")])
    assert resolve_upstream(mapping, [K.single(["a", "b"])], AB, None).is_unpartitioned
    assert resolve_upstream(mapping, keys("a", "a"), AB, None).is_none


def test_for_keys_dynamic_downstream_range():
    mapping = M.for_keys([PartitionKeyRange.single("acme", "globex")])
    assert resolve_upstream(mapping, keys("globex"), CUSTOMERS, None, dynamic_partitions=registered).is_unpartitioned
    assert resolve_upstream(mapping, keys("initech"), CUSTOMERS, None, dynamic_partitions=registered).is_none


def test_for_keys_range_that_does_not_fit_fails():
    mapping = M.for_keys([PartitionKeyRange.single("a", "zz")])
    with pytest.raises(PartitionValidationError, match="does not fit the downstream"):
        resolve_upstream(mapping, keys("a"), AB, None)


def test_for_keys_between_partitioned_assets_fails():
    with pytest.raises(PartitionValidationError, match="ForKeys mapping is only valid when upstream is unpartitioned"):
        resolve_upstream(M.for_keys([K.single("a")]), keys("a"), AB, AB)


# --- Subset ---------------------------------------------------------------------------------


def test_subset_loads_the_key_when_the_upstream_has_it():
    assert loads(M.subset(), keys("b"), ABC, AB) == keys("b")
    assert resolve_upstream(M.subset(), keys("c"), ABC, AB) == UpstreamLoad.inject_none()


def test_subset_dynamic_upstream_checks_registered_keys():
    assert loads(M.subset(), keys("acme"), CUSTOMERS, CUSTOMERS, dynamic_partitions=registered) == keys("acme")
    assert resolve_upstream(M.subset(), keys("nope"), CUSTOMERS, CUSTOMERS, dynamic_partitions=registered).is_none


def test_subset_batched_step_loads_the_members_the_upstream_has():
    assert loads(M.subset(), [K.single(["a", "c", "b"])], ABC, AB) == keys("a", "b")


# --- Multi ----------------------------------------------------------------------------------------


def test_multi_maps_each_dimension():
    mapping = M.multi({"date": M.time_window(-1), "region": M.identity()})
    assert loads(mapping, [mk("2024-01-03", "eu")], DATE_REGION, DATE_REGION) == [mk("2024-01-02", "eu")]


def test_multi_with_renamed_dimensions():
    upstream = PD.multi({"day": DAILY, "zone": PD.static_(["europe", "america"])})
    mapping = M.multi({"day": ("date", M.identity()), "zone": ("region", M.static_({"eu": "europe", "us": "america"}))})
    assert loads(mapping, [mk("2024-01-03", "eu")], DATE_REGION, upstream) == [
        K.multi({"day": "2024-01-03", "zone": "europe"})
    ]


def test_multi_dimension_with_all_or_specific_partitions():
    every_region = M.multi({"region": M.all_partitions()})
    assert loads(every_region, [mk("2024-01-03", "eu")], DATE_REGION, DATE_REGION) == [
        mk("2024-01-03", "us"),
        mk("2024-01-03", "eu"),
    ]
    only_us = M.multi({"region": M.specific_partitions(["us"])})
    assert loads(only_us, [mk("2024-01-03", "eu")], DATE_REGION, DATE_REGION) == [mk("2024-01-03", "us")]


def test_multi_invalid_plan_fails_at_run_time():
    with pytest.raises(PartitionValidationError, match="upstream dimension 'x' which does not exist"):
        resolve_upstream(M.multi({"x": M.identity()}), [mk("2024-01-03", "eu")], DATE_REGION, DATE_REGION)


# --- MultiToSingle ------------------------------------------------------------------------------


def test_multi_to_single_takes_the_dimension_value():
    assert loads(M.multi_to_single("date"), [mk("2024-01-03", "eu")], DATE_REGION, DAILY) == keys("2024-01-03")
    previous = M.multi_to_single("date", M.time_window(-1))
    assert loads(previous, [mk("2024-01-03", "eu")], DATE_REGION, DAILY) == keys("2024-01-02")
    regions = M.multi_to_single("region", M.static_({"us": "a", "eu": "b"}))
    assert loads(regions, [mk("2024-01-03", "eu")], DATE_REGION, AB) == keys("b")


def test_multi_to_single_reverse_loads_every_matching_upstream_key():
    loaded = loads(M.multi_to_single("region"), keys("eu"), REGIONS, DATE_REGION)
    assert loaded == [mk(f"2024-01-0{day}", "eu") for day in range(1, 8)]


def test_multi_to_single_reverse_with_a_dynamic_dimension():
    upstream = PD.multi({"date": DAILY, "customer": CUSTOMERS})
    loaded = loads(M.multi_to_single("date"), keys("2024-01-02"), DAILY, upstream, dynamic_partitions=registered)
    assert loaded == [K.multi({"date": "2024-01-02", "customer": name}) for name in ("acme", "globex", "initech")]


def test_multi_to_single_needs_multi_on_exactly_one_side():
    with pytest.raises(PartitionValidationError, match="exactly one side"):
        resolve_upstream(M.multi_to_single("date"), keys("2024-01-02"), DAILY, DAILY)


# --- unpartitioned sides ---------------------------------------------------------------------------


def test_partitioned_downstream_unpartitioned_upstream_loads_the_value():
    assert resolve_upstream(None, keys("a"), AB, None) == UpstreamLoad.load_unpartitioned()
    assert resolve_upstream(None, None, AB, None) == UpstreamLoad.load_unpartitioned()


def test_partitioned_downstream_unpartitioned_upstream_rejects_other_mappings():
    with pytest.raises(PartitionValidationError, match="only AllPartitions, ForKeys, or no mapping"):
        resolve_upstream(M.identity(), keys("a"), AB, None)


def test_both_unpartitioned():
    assert resolve_upstream(None, None, None, None) == UpstreamLoad.load_unpartitioned()
    assert resolve_upstream(M.identity(), None, None, None) == UpstreamLoad.load_unpartitioned()
    with pytest.raises(PartitionValidationError, match="neither asset has partitions"):
        resolve_upstream(M.all_partitions(), None, None, None)


def test_unpartitioned_downstream_needs_a_mapping():
    with pytest.raises(PartitionValidationError, match=r"a partition_mapping \(e.g. AllPartitions"):
        resolve_upstream(None, None, None, AB)
    with pytest.raises(PartitionValidationError, match="only AllPartitions or SpecificPartitions"):
        resolve_upstream(M.identity(), None, None, AB)


def test_partitioned_downstream_needs_its_keys():
    with pytest.raises(PartitionValidationError, match="needs the downstream partition keys"):
        resolve_upstream(M.identity(), None, AB, AB)


# --- batched steps (several downstream keys) --------------------------------------------------------


def test_batched_identity_loads_every_member_in_upstream_order():
    assert loads(None, keys("c", "a"), ABC, ABC) == keys("a", "c")
    assert loads(None, [K.single(["b", "a"])], AB, AB) == keys("a", "b")


def test_batched_time_window_loads_the_union_without_duplicates():
    loaded = loads(M.time_window(-1), keys("2024-01-04", "2024-01-03", "2024-01-04"), DAILY, DAILY)
    assert loaded == keys("2024-01-02", "2024-01-03")


def test_batched_overlap_union():
    loaded = loads(None, keys("2024-01-02", "2024-01-01"), DAILY, HOURLY)
    assert len(loaded) == 48 and str(loaded[0]) == "2024-01-01T00:00" and str(loaded[-1]) == "2024-01-02T23:00"


def test_batched_multi_key_with_value_lists():
    key = K.multi({"date": ["2024-01-03", "2024-01-02"], "region": "eu"})
    assert loads(M.multi_to_single("date"), [key], DATE_REGION, DAILY) == keys("2024-01-02", "2024-01-03")


def test_batched_static_mapping_dedups():
    assert loads(M.static_({"a": "c", "b": "c"}), keys("a", "b"), AB, ABC) == keys("c")


def test_batched_all_partitions_loads_everything_once():
    assert loads(M.all_partitions(), keys("a", "b"), AB, ABC) == keys("a", "b", "c")


def test_batched_dynamic_keys_without_dynamic_partitions_keep_their_order():
    assert loads(None, keys("globex", "acme"), CUSTOMERS, CUSTOMERS) == keys("globex", "acme")
    assert loads(None, keys("globex", "acme"), CUSTOMERS, CUSTOMERS, dynamic_partitions=registered) == keys(
        "acme", "globex"
    )
