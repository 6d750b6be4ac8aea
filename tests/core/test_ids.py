"""Random identifiers: valid UUID4 strings, distinct across forked processes."""

from __future__ import annotations

import os
import uuid

import pytest

from rivers._ids import random_uuid4


def test_random_uuid4_is_a_version_4_rfc_4122_uuid():
    for _ in range(200):
        text = random_uuid4()
        parsed = uuid.UUID(text)
        assert str(parsed) == text
        assert parsed.version == 4 and parsed.variant == uuid.RFC_4122


def test_random_uuid4_values_are_distinct():
    assert len({random_uuid4() for _ in range(10_000)}) == 10_000


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_forked_children_draw_different_identifiers():
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: report one identifier and exit at once
        os.write(write_end, random_uuid4().encode())
        os._exit(0)
    os.close(write_end)
    child_value = os.read(read_end, 100).decode()
    os.waitpid(pid, 0)
    os.close(read_end)
    assert uuid.UUID(child_value).version == 4
    assert child_value != random_uuid4()
