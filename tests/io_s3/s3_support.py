"""Constants and helpers of the rivers-io-s3 tests."""

from __future__ import annotations

import re

BUCKET = "rivers-tests"


def prefix_for(tmp_path) -> str:
    """A prefix unique to the test (pytest's tmp_path names are unique within a session)."""
    return "t/" + re.sub(r"[^A-Za-z0-9_-]", "-", tmp_path.name)
