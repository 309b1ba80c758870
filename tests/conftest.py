"""Shared test fixtures: every test gets its own cache folder, no progress bars, no network,
a fixed seed and one torch thread."""

from __future__ import annotations

import os

# no progress bars: tqdm reads TQDM_DISABLE once, when it is first imported (torch imports it)
os.environ["TQDM_DISABLE"] = "1"
# MKL's AVX code path, as the Makefile's REPRO_ENV sets (MKL reads it once, when torch loads it):
# on an Intel CPU MKL otherwise takes other paths than on the AMD EPYC that computed the committed
# full units, and one of them recomputes otherwise (tests/test_golden.py)
os.environ.setdefault("MKL_CBWR", "AVX")

import pytest  # noqa: E402
import torch  # noqa: E402


def pytest_addoption(parser):
    parser.addoption(
        "--golden-store",
        default=None,
        metavar="DIR",
        help="a results store (DIR/quick/<experiment>/) to check against tests/golden/ "
        "(make test-quick passes the store its chapters computed)",
    )
    parser.addoption(
        "--golden-full",
        action="store_true",
        help="also recompute the committed full units that take minutes (make golden-full)",
    )


@pytest.fixture(autouse=True)
def _isolated_env(tmp_path, monkeypatch):
    monkeypatch.setenv("SYNLAB_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("SYNLAB_OFFLINE", "1")
    torch.manual_seed(0)
    # the networks in tests are tiny: one thread is as fast and avoids oversubscription
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
