"""Shared test fixtures: every test gets its own cache folder, no progress bars, no network,
a fixed seed and one torch thread."""

from __future__ import annotations

import pytest
import torch


@pytest.fixture(autouse=True)
def _isolated_env(tmp_path, monkeypatch):
    monkeypatch.setenv("SYNLAB_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("SYNLAB_PROGRESS", "0")
    monkeypatch.setenv("SYNLAB_OFFLINE", "1")
    torch.manual_seed(0)
    # the networks in tests are tiny: one thread is as fast and avoids oversubscription
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
