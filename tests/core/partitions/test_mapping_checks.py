"""validate_edge: the edge table, the per-variant checks and the project's defaults."""

from __future__ import annotations

import datetime as dt

import pytest

from rivers.exceptions import PartitionValidationError
from rivers.partitions import PartitionKeyRange
from rivers.partitions.mappings.checks import validate_edge
from rivers.partitions.mappings.defaults import MappingMismatch, default_mapping
from mapping_definitions import AB, ABC, CUSTOMERS, DAILY, DATE_REGION, HOURLY, PD, REGIONS, K, M



def check(mapping, downstream_def, upstream_def):
    validate_edge(mapping, downstream="b", downstream_def=downstream_def, upstream="a", upstream_def=upstream_def)


def fails(mapping, downstream_def, upstream_def, fragment):
    """The edge is rejected with a message naming both assets and containing ``fragment``."""
    with pytest.raises(PartitionValidationError) as info:
        check(mapping, downstream_def, upstream_def)
    message = str(info.value)
    assert message.startswith("asset 'b' depends on 'a': "), message
    assert fragment in message, message
    return message


# --- edge table -------------------------------------------------------------------------

KEY_A = K.single("a")


@pytest.mark.parametrize(
    ("mapping", "downstream_def", "upstream_def"),
    [
        (None, AB, AB),
        (M.identity(), AB, ABC),
        (M.time_window(-1), DAILY, DAILY),
        (M.static_({"a": "c"}), AB, ABC),
        (M.all_partitions(), AB, DAILY),
        (M.multi({"date": M.time_window(-1), "region": M.identity()}), DATE_REGION, DATE_REGION),
        (M.multi_to_single("date"), DATE_REGION, DAILY),
        (M.subset(), ABC, AB),
    ],
)
def test_partitioned_to_partitioned_accepts(mapping, downstream_def, upstream_def):
    check(mapping, downstream_def, upstream_def)


def test_partitioned_to_partitioned_rejects_specific_partitions_and_for_keys():
    specific = M.specific_partitions(["a"])
    fails(specific, AB, AB, "SpecificPartitions mapping is only valid when downstream is unpartitioned.")
    fails(M.for_keys([KEY_A]), AB, AB, "ForKeys mapping is only valid when upstream is unpartitioned")


@pytest.mark.parametrize("mapping", [None, M.all_partitions(), M.for_keys([KEY_A])])
def test_partitioned_downstream_unpartitioned_upstream_accepts(mapping):
    check(mapping, AB, None)


@pytest.mark.parametrize(
    "mapping",
    [
        M.identity(),
        M.time_window(0),
        M.static_({}),
        M.subset(),
        M.specific_partitions(["a"]),
        M.multi({"d": M.identity()}),
        M.multi_to_single("d"),
    ],
)
def test_partitioned_downstream_unpartitioned_upstream_rejects(mapping):
    fails(mapping, AB, None, "only AllPartitions, ForKeys, or no mapping is valid when upstream has no partitions")


def test_unpartitioned_downstream_requires_a_mapping():
    fails(None, None, AB, "a partition_mapping (e.g. AllPartitions or SpecificPartitions) is required")


@pytest.mark.parametrize("mapping", [M.all_partitions(), M.specific_partitions(["b"])])
def test_unpartitioned_downstream_partitioned_upstream_accepts(mapping):
    check(mapping, None, AB)


@pytest.mark.parametrize("mapping", [M.identity(), M.time_window(0), M.static_({}), M.subset(), M.for_keys([KEY_A])])
def test_unpartitioned_downstream_partitioned_upstream_rejects(mapping):
    fails(mapping, None, AB, "only AllPartitions or SpecificPartitions mapping is valid")


@pytest.mark.parametrize("mapping", [None, M.identity()])
def test_both_unpartitioned_accepts(mapping):
    check(mapping, None, None)


@pytest.mark.parametrize("mapping", [M.all_partitions(), M.time_window(-1), M.specific_partitions(["a"])])
def test_both_unpartitioned_rejects(mapping):
    message = fails(mapping, None, None, "partition_mapping specified but neither asset has partitions")
    assert repr(mapping) in message


def test_a_non_mapping_is_rejected():
    fails("identity", AB, AB, "partition_mapping must be a PartitionMapping")


# --- Identity ------------------------------------------------------------------------------


def test_identity_requires_same_partition_type():
    message = fails(M.identity(), AB, DAILY, "Identity mapping requires same partition type")
    assert "static partitions ['a', 'b']" in message and "daily partitions" in message


def test_identity_static_downstream_keys_must_exist_upstream():
    fails(M.identity(), ABC, PD.static_(["b"]), "missing upstream: a, c")


def test_identity_dynamic_namespaces_must_match():
    check(M.identity(), CUSTOMERS, PD.dynamic("cust"))
    fails(M.identity(), CUSTOMERS, PD.dynamic("orders"), "same dynamic namespace: downstream 'cust', upstream 'orders'")


def test_identity_multi_dimensions_must_match():
    fails(M.identity(), DATE_REGION, PD.multi({"date": DAILY, "zone": REGIONS}), "same multi dimensions")
    upstream = PD.multi({"date": DAILY, "region": PD.static_(["us"])})
    fails(M.identity(), DATE_REGION, upstream, "in dimension 'region': ")


def test_identity_multi_dimension_order_does_not_matter():
    check(M.identity(), DATE_REGION, PD.multi({"region": REGIONS, "date": DAILY}))


def test_identity_time_grids_must_be_compatible():
    hourly_days = PD.time_window(dt.datetime(2024, 1, 1), cron_schedule="0 * * * *", fmt="%Y-%m-%dT%H")
    daily_hours = PD.time_window(dt.datetime(2024, 1, 1), cron_schedule="0 0 * * *", fmt="%Y-%m-%dT%H")
    fails(M.identity(), hourly_days, daily_hours, "is not on the upstream grid (cron '0 0 * * *')")
    fails(M.identity(), DAILY, HOURLY, "is not on the upstream grid (cron '0 * * * *')")


def test_identity_interval_grids_need_the_same_phase():
    up = PD.time_window(dt.datetime(2024, 1, 1), interval_seconds=3600)
    check(M.identity(), PD.time_window(dt.datetime(2024, 1, 1, 5), interval_seconds=3600), up)
    fails(
        M.identity(),
        PD.time_window(dt.datetime(2024, 1, 1, 0, 30), interval_seconds=3600),
        up,
        "window start 2024-01-01T00:30:00 is not on the upstream grid (interval 3600s",
    )


def test_identity_time_grids_need_the_same_fmt():
    other = PD.daily(dt.datetime(2024, 1, 1), fmt="%Y%m%d")
    fails(M.identity(), DAILY, other, "same key format")


def test_identity_time_grids_with_different_ranges_are_compatible():
    check(M.identity(), PD.daily(dt.datetime(2023, 6, 1)), DAILY)


# --- TimeWindow, Static, SpecificPartitions, ForKeys --------------------------------------------


def test_time_window_requires_time_windows_on_both_sides():
    fails(M.time_window(-1), AB, DAILY, "TimeWindow mapping requires TimeWindow partitions on downstream")
    fails(M.time_window(-1), DAILY, AB, "TimeWindow mapping requires TimeWindow partitions on upstream")


def test_time_window_between_different_grids_is_allowed():
    check(M.time_window(-1), DAILY, HOURLY)


def test_static_keys_and_targets_must_exist():
    fails(M.static_({"z": "a"}), AB, ABC, "Static partition mapping key 'z'")
    fails(M.static_({"a": "q"}), AB, ABC, "Static mapping target 'q'")


def test_static_keys_on_multi_definitions_are_display_strings():
    mapping = M.static_({"date=2024-01-02|region=eu": "date=2024-01-01|region=eu"})
    check(mapping, DATE_REGION, DATE_REGION)
    fails(M.static_({"date=2024-01-02|region=xx": "date=2024-01-01|region=eu"}), DATE_REGION, DATE_REGION, "key")


def test_specific_partitions_keys_must_be_upstream_keys():
    fails(M.specific_partitions(["a", "zz"]), None, AB, "not keys of the upstream")
    check(M.specific_partitions(["2024-01-02", "2024-01-05"]), None, DAILY)
    check(M.specific_partitions(["date=2024-01-02|region=us"]), None, DATE_REGION)


def test_specific_partitions_on_dynamic_upstream_cannot_be_checked_before_run_time():
    check(M.specific_partitions(["anything"]), None, CUSTOMERS)


def test_for_keys_selectors_must_be_valid_downstream_keys():
    check(M.for_keys([K.single("a"), PartitionKeyRange.single("a", "b")]), AB, None)
    fails(M.for_keys([K.single("zz")]), AB, None, "ForKeys selector 'zz' is not a valid downstream partition key")
    fails(M.for_keys([PartitionKeyRange.single("a", "zz")]), AB, None, "does not fit the downstream")
    fails(M.for_keys([PartitionKeyRange.single("b", "a")]), AB, None, "is after to_key")


def test_for_keys_ranges_of_dynamic_downstream_are_checked_at_run_time():
    check(M.for_keys([PartitionKeyRange.single("x", "y")]), CUSTOMERS, None)


# --- Subset ---------------------------------------------------------------------------------


def test_subset_requires_same_partition_type():
    fails(M.subset(), AB, DAILY, "Subset mapping requires same partition type")


def test_subset_upstream_keys_must_be_downstream_keys():
    message = fails(M.subset(), AB, ABC, "upstream has extra keys: ['c']")
    assert "Subset mapping" in message


def test_subset_time_windows():
    check(M.subset(), PD.daily(dt.datetime(2023, 12, 1), dt.datetime(2024, 2, 1)), DAILY)
    longer = PD.daily(dt.datetime(2023, 12, 30), dt.datetime(2024, 1, 9))
    fails(M.subset(), DAILY, longer, "upstream has extra keys: ['2023-12-30', '2023-12-31', '2024-01-08']")
    fails(M.subset(), DAILY, HOURLY, "Subset mapping")


def test_subset_multi_is_checked_per_dimension():
    wider = PD.multi({"date": DAILY, "region": PD.static_(["us", "eu", "apac"])})
    fails(M.subset(), DATE_REGION, wider, "in dimension 'region': ")
    check(M.subset(), wider, DATE_REGION)
    renamed = PD.multi({"date": DAILY, "zone": PD.static_(["us", "eu"])})
    fails(M.subset(), DATE_REGION, renamed, "Subset mapping requires the same multi dimensions")


def test_subset_dynamic_is_checked_at_run_time():
    check(M.subset(), CUSTOMERS, PD.dynamic("other"))


# --- Multi ----------------------------------------------------------------------------------


def test_multi_requires_multi_on_both_sides():
    fails(M.multi({"date": M.identity()}), DAILY, DATE_REGION, "Multi mapping requires Multi partitions on downstream")
    fails(M.multi({"date": M.identity()}), DATE_REGION, DAILY, "Multi mapping requires Multi partitions on upstream")


def test_multi_referenced_dimensions_must_exist():
    fails(M.multi({"x": M.identity()}), DATE_REGION, DATE_REGION, "upstream dimension 'x' which does not exist")
    fails(
        M.multi({"date": ("day", M.identity())}),
        DATE_REGION,
        DATE_REGION,
        "downstream dimension 'day' which does not exist",
    )


def test_multi_must_cover_every_upstream_and_downstream_dimension():
    renamed = PD.multi({"date": DAILY, "zone": REGIONS})
    fails(M.multi({"date": M.identity()}), DATE_REGION, renamed, "missing upstream dimension 'zone'")
    check(M.multi({"zone": ("region", M.identity())}), DATE_REGION, renamed)
    fails(
        M.multi({"date": M.identity(), "zone": ("date", M.all_partitions())}),
        DATE_REGION,
        renamed,
        "does not cover downstream dimension 'region'",
    )


def test_multi_unlisted_same_name_dimensions_use_identity():
    check(M.multi({"date": M.time_window(-1)}), DATE_REGION, DATE_REGION)
    other_regions = PD.multi({"date": DAILY, "region": AB})
    fails(M.multi({"date": M.time_window(-1)}), DATE_REGION, other_regions, "in dimension 'region'")


def test_multi_inner_mappings_are_checked_in_their_dimension():
    message = fails(
        M.multi({"date": M.identity(), "region": M.static_({"us": "xx"})}),
        DATE_REGION,
        DATE_REGION,
        "in dimension 'region': Static mapping target 'xx'",
    )
    assert message
    fails(M.multi({"region": M.time_window(0)}), DATE_REGION, DATE_REGION, "in dimension 'region': TimeWindow mapping")


def test_multi_dimension_may_use_specific_partitions():
    check(M.multi({"region": M.specific_partitions(["us"])}), DATE_REGION, DATE_REGION)
    fails(M.multi({"region": M.specific_partitions(["xx"])}), DATE_REGION, DATE_REGION, "in dimension 'region'")


# --- MultiToSingle --------------------------------------------------------------------------------


def test_multi_to_single_both_directions():
    check(M.multi_to_single("date"), DATE_REGION, DAILY)
    check(M.multi_to_single("date"), DAILY, DATE_REGION)
    check(M.multi_to_single("region", M.static_({"us": "a", "eu": "b"})), DATE_REGION, AB)


def test_multi_to_single_needs_multi_on_exactly_one_side():
    fails(M.multi_to_single("date"), DAILY, DAILY, "requires Multi partitions on exactly one side")
    fails(M.multi_to_single("date"), DATE_REGION, DATE_REGION, "requires Multi partitions on exactly one side")


def test_multi_to_single_dimension_must_exist():
    message = "MultiToSingle dimension 'day' is not a dimension of the downstream"
    fails(M.multi_to_single("day"), DATE_REGION, DAILY, message)
    fails(M.multi_to_single("day"), DAILY, DATE_REGION, "is not a dimension of the upstream")


def test_multi_to_single_inner_mapping_is_checked_in_the_dimension():
    fails(M.multi_to_single("date"), DATE_REGION, HOURLY, "in dimension 'date': Identity mapping")
    check(M.multi_to_single("date", M.time_window(0)), DATE_REGION, HOURLY)


# --- defaults (mapping=None) -------------------------------------------------------------------


def test_default_is_identity_for_compatible_definitions():
    assert default_mapping(AB, ABC) == M.identity()
    assert default_mapping(DATE_REGION, PD.multi({"region": REGIONS, "date": DAILY})) == M.identity()


def test_default_between_different_time_grids_is_the_overlapping_windows():
    assert default_mapping(DAILY, HOURLY) == M.time_window(0)
    assert default_mapping(HOURLY, DAILY) == M.time_window(0)
    check(None, DAILY, HOURLY)


def test_default_multi_to_single_both_directions():
    assert default_mapping(DATE_REGION, DAILY) == M.multi_to_single("date")
    assert default_mapping(DAILY, DATE_REGION) == M.multi_to_single("date")
    assert default_mapping(DATE_REGION, PD.static_(["us", "eu", "apac"])) == M.multi_to_single("region")
    assert default_mapping(DATE_REGION, HOURLY) == M.multi_to_single("date", M.time_window(0))
    check(None, DATE_REGION, DAILY)
    check(None, HOURLY, DATE_REGION)


def test_default_multi_to_multi_uses_each_dimension_default():
    upstream = PD.multi({"date": HOURLY, "region": REGIONS})
    assert default_mapping(DATE_REGION, upstream) == M.multi({"date": M.time_window(0), "region": M.identity()})


def test_default_multi_to_multi_reports_the_dimension():
    with pytest.raises(MappingMismatch, match="in dimension 'region'"):
        default_mapping(DATE_REGION, PD.multi({"date": DAILY, "region": AB}))


def test_no_default_fits():
    message = fails(None, AB, DAILY, "no default partition mapping fits")
    assert "pass a partition_mapping" in message
    fails(None, ABC, AB, "missing upstream: c")
    fails(None, DATE_REGION, PD.multi({"x": DAILY}), "same multi dimensions")


def test_ambiguous_multi_to_single_default():
    two = PD.multi({"left": AB, "right": AB})
    fails(None, two, AB, "several downstream dimensions (left, right)")
    fails(None, AB, two, "several upstream dimensions (left, right)")
    fails(None, DATE_REGION, CUSTOMERS, "no downstream dimension (date, region) matches")


def test_unpartitioned_upstream_default_loads_the_value():
    check(None, DATE_REGION, None)


# --- plugin partition types (KeyListDefinition) ---------------------------------------------------


def _plugin_definition(values):
    from rivers.partitions import KeyListDefinition

    class Letters(KeyListDefinition):
        kind = "letters"

        def __init__(self, letters):
            self.letters = tuple(letters)

        def key_values(self):
            return self.letters

    return Letters(values)


def test_plugin_definitions_use_key_membership():
    small, large = _plugin_definition("ab"), _plugin_definition("abc")
    check(None, small, large)
    check(M.subset(), large, small)
    fails(M.identity(), large, small, "missing upstream: c")
    fails(M.subset(), small, large, "upstream has extra keys: ['c']")
    fails(M.identity(), small, AB, "Identity mapping requires same partition type")
