"""Fixtures of the serve tests: the hand-made store of live_store.py, written once per module."""

from __future__ import annotations

import pytest
from serve.live_store import write_store


@pytest.fixture(scope="module")
def store_path(tmp_path_factory):
    path = tmp_path_factory.mktemp("serve") / "results.sqlite"
    write_store(path)
    return path
