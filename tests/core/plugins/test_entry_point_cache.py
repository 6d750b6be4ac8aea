"""The entry-point scan cache: written on a miss, served on a hit, keyed by sys.path, pruned."""

from __future__ import annotations

import json
import os
import sys

import pytest

from rivers.plugins import discovery, entry_point_cache


@pytest.fixture
def cache_dir(tmp_path, monkeypatch):
    monkeypatch.setenv(entry_point_cache.CACHE_DIR_ENV, str(tmp_path))
    monkeypatch.setenv(entry_point_cache.CACHE_ENV, "1")
    return tmp_path


def _cache_files(directory):
    return sorted(p for p in os.listdir(directory) if p.startswith("entry-points-"))


def test_scan_is_written_then_served_from_the_cache(cache_dir, monkeypatch):
    scanned = discovery.installed_plugins()
    assert len(_cache_files(cache_dir)) == 1

    def no_scan():
        raise AssertionError("the cache should have answered")

    monkeypatch.setattr(discovery, "_scan", no_scan)
    cached = discovery.installed_plugins()
    assert [(p.name, p.value, p.distribution, p.version) for p in cached] == [
        (p.name, p.value, p.distribution, p.version) for p in scanned
    ]


def test_cached_reference_loads_like_the_entry_point(cache_dir):
    entry_point_cache.write([{"name": "x", "value": "os.path:join", "distribution": None, "version": None}])
    [plugin] = discovery.installed_plugins()
    assert plugin.load() is os.path.join


def test_a_changed_sys_path_misses(cache_dir, monkeypatch, tmp_path_factory):
    entry_point_cache.write([])
    assert entry_point_cache.read() == []
    monkeypatch.setattr(sys, "path", [*sys.path, str(tmp_path_factory.mktemp("site"))])
    assert entry_point_cache.read() is None


def test_a_file_for_another_key_is_a_miss(cache_dir):
    entry_point_cache.write([{"name": "x", "value": "m:a", "distribution": None, "version": None}])
    [name] = _cache_files(cache_dir)
    path = cache_dir / name
    data = json.loads(path.read_text())
    data["key"] += "-other"  # what a CRC-32 collision would look like
    path.write_text(json.dumps(data))
    assert entry_point_cache.read() is None


def test_a_corrupt_file_is_a_miss(cache_dir):
    entry_point_cache.write([])
    [name] = _cache_files(cache_dir)
    (cache_dir / name).write_text("{not json")
    assert entry_point_cache.read() is None


def test_disabled_cache_neither_reads_nor_writes(cache_dir, monkeypatch):
    monkeypatch.setenv(entry_point_cache.CACHE_ENV, "0")
    entry_point_cache.write([])
    assert _cache_files(cache_dir) == []
    assert entry_point_cache.read() is None


def test_old_files_are_pruned(cache_dir, monkeypatch):
    for i in range(entry_point_cache.MAX_FILES + 5):
        stale = cache_dir / f"entry-points-{i:08x}.json"
        stale.write_text("{}")
        os.utime(stale, ns=(i * 10**9, i * 10**9))
    entry_point_cache.write([])
    files = _cache_files(cache_dir)
    assert len(files) == entry_point_cache.MAX_FILES
    assert "entry-points-00000000.json" not in files  # the oldest went first
    assert entry_point_cache.read() == []  # the new one stayed


def test_writing_files_next_to_the_script_keeps_the_cache(cache_dir, monkeypatch, tmp_path_factory):
    project = tmp_path_factory.mktemp("project")
    monkeypatch.setattr(sys, "path", [str(project), *sys.path])
    entry_point_cache.write([])
    (project / "output.csv").write_text("a,b\n")  # changes the directory's modification time
    (project / ".rivers").mkdir()
    assert entry_point_cache.read() == []


def test_a_distribution_installed_next_to_the_script_misses(cache_dir, monkeypatch, tmp_path_factory):
    project = tmp_path_factory.mktemp("project")
    monkeypatch.setattr(sys, "path", [str(project), *sys.path])
    entry_point_cache.write([])
    (project / "thing-1.0.dist-info").mkdir()
    assert entry_point_cache.read() is None
