"""Shared test fixtures: every test gets its own data, cache and results folders."""
from __future__ import annotations

import pytest
import torch


@pytest.fixture(autouse=True)
def _isolated_env(tmp_path, monkeypatch):
    monkeypatch.setenv("SYNLAB_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("SYNLAB_PROGRESS", "0")
    monkeypatch.setenv("SYNLAB_OFFLINE", "1")
    torch.manual_seed(0)
    yield
