"""Cheap random identifiers."""

from __future__ import annotations

import os
import random

# Seeded from the OS once per process (and again in every forked child), then
# drawn from without a system call: getrandom() is slow on some VMs and a
# data version is needed for every materialisation. Identifiers need to be
# unique, not secret.
_rng = random.Random(os.urandom(32))


def _reseed() -> None:
    _rng.seed(os.urandom(32))


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reseed)


def random_uuid4() -> str:
    """A random RFC 4122 version-4 UUID string, like ``str(uuid.uuid4())``."""
    value = (_rng.getrandbits(128) & ~(0xF000 << 64) | (0x4000 << 64)) & ~(0xC000 << 48) | (0x8000 << 48)
    text = f"{value:032x}"
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"
