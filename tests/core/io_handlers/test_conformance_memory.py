"""The in-memory handler passes the IO-handler conformance kit (within its capabilities)."""

from __future__ import annotations

import pytest

from rivers.io_handlers.base import BaseIOHandler
from rivers.io_handlers.memory import InMemoryIOHandler
from rivers.testing.io_handlers import IOHandlerConformance, load_value, partition, write_value


class TestInMemoryConformance(IOHandlerConformance):
    # Values live in the handler object: no other process or instance sees them.
    cross_process = False
    persistent = False
    missing_value_error = KeyError
    expected_metadata_keys = {"storage", "size_bytes"}

    def make_handler(self, tmp_path):
        return InMemoryIOHandler()


def test_capabilities_skip_what_does_not_apply():
    """A disabled capability skips its tests with the reason (and does not pass them silently)."""
    suite = TestInMemoryConformance()
    with pytest.raises(pytest.skip.Exception, match="cross_process is False"):
        suite.test_handler_pickles(InMemoryIOHandler())
    with pytest.raises(pytest.skip.Exception, match="persistent is False"):
        suite.test_new_handler_sees_stored_values(InMemoryIOHandler(), None)


class _ForgetfulHandler(BaseIOHandler):
    """Loses partitions: stores every partition under the asset name alone."""

    def __init__(self):
        super().__init__()
        self.values = {}

    def handle_output(self, context, obj):
        self.values[context.asset_name] = obj

    def load_input(self, context):
        return self.values[context.asset_name]


def test_kit_catches_a_handler_that_ignores_partitions():
    suite = TestInMemoryConformance()
    with pytest.raises(AssertionError):
        suite.test_partitions_are_independent(_ForgetfulHandler())


def test_kit_catches_a_wrong_missing_value_error():
    class Strict(TestInMemoryConformance):
        missing_value_error = FileNotFoundError

    with pytest.raises(KeyError):  # not the declared FileNotFoundError: the test fails
        Strict().test_missing_asset_raises(InMemoryIOHandler())


def test_helpers_build_contexts_handlers_understand():
    handler = InMemoryIOHandler()
    context = write_value(handler, "asset", 5, partition("k"))
    assert context.output_metadata["size_bytes"].value > 0
    assert load_value(handler, "asset", partition("k")) == 5
    with pytest.raises(KeyError):
        load_value(handler, "asset", partition("other"))
