"""The export benchmark measures a store it did not build as it is: it never replaces one."""

from __future__ import annotations

from bench.exports import build_store


def test_a_store_without_the_harness_marker_is_kept(tmp_path):
    store = tmp_path / "load-100000000.duckdb"
    store.write_bytes(b"a store built elsewhere")
    build_store(store, 3_000_000, rebuild=False)
    assert store.read_bytes() == b"a store built elsewhere"
    build_store(store, 3_000_000, rebuild=True)
    assert store.read_bytes() == b"a store built elsewhere"
    assert not store.with_suffix(".built.json").exists()
