"""The benchmark scripts run (tiny sizes) and print the ratios they promise."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parent.parent / "benchmarks"


def _run(*args: str) -> str:
    out = subprocess.run(
        [sys.executable, *args],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=BENCH.parent,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    assert out.returncode == 0, out.stderr[-2000:]
    return out.stdout


@pytest.mark.parametrize(
    "script, expected",
    [
        ("bench_ensemble.py", "speed-up (one at a time / ensemble, autograd)"),
        ("bench_flops.py", "the per-network floor"),
    ],
)
def test_speed_benchmarks_print_their_ratios(script, expected):
    out = _run(str(BENCH / script), "--k", "2", "--steps", "3", "--no-compile")
    assert expected in out and "device:" in out


def test_stacked_benchmark_prints_its_ratio():
    out = _run(str(BENCH / "bench_stacked.py"), "--k", "2", "--steps", "2")
    assert "stacked (train_stacked)" in out and "speed-up" in out and "device:" in out


def test_full_profile_benchmark_reads_recorded_wall_times():
    out = _run(str(BENCH / "bench_full_profile.py"), "--recorded", "--only", "raman_table2")
    assert "raman_table2" in out and "total (stored units)" in out


def test_continual_stacked_benchmark_prints_its_ratios():
    out = _run(str(BENCH / "bench_continual_stacked.py"), "--k", "2", "--steps", "2")
    assert "device:" in out and out.count("stacked ") == 2 and "speed-up" in out
