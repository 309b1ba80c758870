"""The executor interface (in-process and the local process pool), its faults, and the planner.

Ray's backend has its own file (``test_executor_ray.py``), skipped when Ray is not installed.
Everything here runs the tiny ``executor_check`` experiment (``synlab.executor_check``)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from synlab import results
from synlab.__main__ import main
from synlab.executor import UnitsFailed
from synlab.executor_check import check_experiment
from synlab.experiments import EXPERIMENTS

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture
def check(tmp_path, monkeypatch):
    """Register the check experiment (seeds 0-3) and give it a results folder and a marker dir."""
    monkeypatch.setitem(EXPERIMENTS, "executor_check", check_experiment(steps=60))
    markers = tmp_path / "markers"
    monkeypatch.setenv("SYNLAB_CHECK_DIR", str(markers))
    for var in ("SYNLAB_CHECK_KILL", "SYNLAB_CHECK_KILL_ALWAYS", "SYNLAB_CHECK_FAIL"):
        monkeypatch.delenv(var, raising=False)
    return tmp_path / "results", markers


def starts(markers: Path) -> dict[int, int]:
    """How many times each seed's unit was started (one marker per start)."""
    out: dict[int, int] = {}
    for p in markers.glob("[0-9]*.*"):
        seed = int(p.name.split(".")[0])
        out[seed] = out.get(seed, 0) + 1
    return out


def stored_files_are_sound(folder: Path) -> list[str]:
    """Every stored unit reads back whole; no temporary file is left behind."""
    assert not list(folder.glob(".*.tmp")), "a partial write was left behind"
    keys = []
    for path in sorted(folder.glob("*.json")):
        rec = results._read_unit(path)
        assert np.isfinite(rec.result["loss"]) and rec.result["weights"].shape == (64,)
        keys.append(path.stem)
    return keys


def test_pool_gives_the_same_numbers_as_in_process(check, monkeypatch):
    root, _ = check
    solo = results.run_experiment("executor_check", "quick", root=root / "a")
    pool = results.run_experiment("executor_check", "quick", root=root / "b", workers=2)
    assert [r.unit for r in pool] == [r.unit for r in solo]
    for a, b in zip(solo, pool):
        assert a.result["loss"] == b.result["loss"]
        np.testing.assert_array_equal(a.result["weights"], b.result["weights"])
    # provenance names backend, node and device; the stamp a chapter prints names no node
    prov = pool.records[0].provenance
    assert prov["backend"] == "local-pool" and solo.records[0].provenance["backend"] == "in-process"
    assert prov["node"] == socket.gethostname() and prov["device"].startswith("cpu")
    assert "1 torch threads" in prov["device"]  # one torch thread per worker
    assert socket.gethostname() not in pool.describe()
    # stacks (as on a GPU) are tasks too, and give the same numbers
    monkeypatch.setenv("SYNLAB_STACK", "1")
    stacked = results.run_experiment("executor_check", "quick", root=root / "c", workers=2)
    assert {r.provenance["stacked_with"] for r in stacked} == {2}
    assert [r.result["loss"] for r in stacked] == [r.result["loss"] for r in solo]


def test_stacks_go_to_gpu_slots_and_lone_units_to_cpu_workers(check, monkeypatch):
    """Where there are GPU slots, a stack of units is a GPU task and a unit alone in its group (a
    method that cannot stack, like EWC beside the stacked trials of a search) a CPU task, so the
    pool runs both side by side (gpu/schug_fashion_tuning.sh relies on it)."""
    from synlab.executor import InProcessExecutor

    root, _ = check
    monkeypatch.setenv("SYNLAB_STACK", "1")
    results.run_experiment("executor_check", "quick", root=root, only={"seed": 0})
    seen = []

    class WithGpuSlots(InProcessExecutor):
        gpu_slots = 1

        def gpu_device_for(self, stacked):
            return stacked

        def run(self, tasks):
            seen.extend((tuple(u["seed"] for u in t.units), t.gpu) for t in tasks)
            yield from super().run(tasks)

    res = results.run_experiment("executor_check", "quick", root=root, executor=WithGpuSlots())
    assert sorted(seen) == [((1, 3), 1.0), ((2,), 0.0)]  # grouped by parity; seed 0 was stored
    assert len(res) == 4


def test_pool_worker_sigkilled_mid_unit_is_retried(check, monkeypatch):
    root, markers = check
    monkeypatch.setenv("SYNLAB_CHECK_KILL", "1")  # seed 1's worker dies once, by SIGKILL
    res = results.run_experiment("executor_check", "quick", root=root, workers=2)
    assert len(res) == 4 and (markers / "killed-1").exists()
    assert starts(markers) == {0: 1, 1: 2, 2: 1, 3: 1}  # retried once, nothing else twice
    assert len(stored_files_are_sound(root / "quick" / "executor_check")) == 4
    results.run_experiment("executor_check", "quick", root=root, workers=2)
    assert starts(markers) == {0: 1, 1: 2, 2: 1, 3: 1}  # a rerun computes nothing


def test_pool_worker_killed_on_every_attempt_is_reported_and_a_rerun_computes_only_it(
    check, monkeypatch
):
    root, markers = check
    monkeypatch.setenv("SYNLAB_CHECK_KILL_ALWAYS", "2")
    with pytest.raises(UnitsFailed, match=r"seed=2: worker died \(signal 9\) on each of 3"):
        results.run_experiment("executor_check", "quick", root=root, workers=2)
    folder = root / "quick" / "executor_check"
    assert stored_files_are_sound(folder) == ["seed=0", "seed=1", "seed=3"]
    assert starts(markers)[2] == 3  # two retries
    monkeypatch.delenv("SYNLAB_CHECK_KILL_ALWAYS")
    res = results.run_experiment("executor_check", "quick", root=root, workers=2)
    assert len(res) == 4 and starts(markers) == {0: 1, 1: 1, 2: 4, 3: 1}


def test_pool_exception_in_a_unit_is_reported_after_the_others_land(check, monkeypatch):
    root, markers = check
    monkeypatch.setenv("SYNLAB_CHECK_FAIL", "0")
    with pytest.raises(UnitsFailed, match="seed=0: ValueError: unit seed=0 fails on purpose"):
        results.run_experiment("executor_check", "quick", root=root, workers=2)
    assert stored_files_are_sound(root / "quick" / "executor_check") == [
        "seed=1",
        "seed=2",
        "seed=3",
    ]
    assert starts(markers)[0] == 1  # an exception is not retried: it would fail again
    rc = main(["run", "executor_check", "--workers", "2"])  # the command line reports it, exit 1
    assert rc == 1


def _descendants(pid: int) -> list:
    import psutil

    return psutil.Process(pid).children(recursive=True)


def _all_gone(procs, timeout: float = 10.0) -> list:
    import psutil

    deadline = time.time() + timeout
    alive = procs
    while alive and time.time() < deadline:
        alive = []
        for p in procs:
            try:
                if p.status() != psutil.STATUS_ZOMBIE:
                    alive.append(p)
            except psutil.NoSuchProcess:
                pass
        time.sleep(0.2)
    return alive


DRIVER = textwrap.dedent(
    """
    import sys
    from synlab.__main__ import main
    from synlab.executor_check import check_experiment
    from synlab.experiments import register

    if __name__ == "__main__":
        register(check_experiment(steps=60, sleep_s=float(sys.argv[1])))
        sys.exit(main(["run", "executor_check", "--profile", "full", *sys.argv[2:]]))
    """
)


def _kill(proc, kids) -> None:
    """SIGKILL a driver and everything it started (a failed test leaves nothing running)."""
    for p in [*kids, proc]:
        try:
            os.kill(p.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


def interrupt_driver(
    tmp_path: Path, args: list[str], sleep_s: float, wait_s: float = 120, skip_if: str = ""
):
    """Start ``synlab run executor_check`` with ``args`` in a driver process, wait until a unit is
    stored, Ctrl-C the driver, and return its exit code, output, results folder, descendants
    and their names."""
    pytest.importorskip("psutil")
    script = tmp_path / "driver.py"
    script.write_text(DRIVER)
    folder = tmp_path / "results" / "full" / "executor_check"
    env = dict(os.environ, SYNLAB_RESULTS_DIR=str(tmp_path / "results"), PYTHONPATH=str(REPO))
    proc = subprocess.Popen(
        [sys.executable, str(script), str(sleep_s), *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    deadline = time.time() + wait_s
    kids = []
    try:
        while time.time() < deadline and proc.poll() is None:
            kids = list(
                ({p.pid: p for p in kids} | {p.pid: p for p in _descendants(proc.pid)}).values()
            )
            if list(folder.glob("*.json")):
                break
            time.sleep(0.1)
        if proc.poll() is not None or not list(folder.glob("*.json")):
            _kill(proc, kids)  # the driver ended, or hung, before a unit landed
            out = proc.communicate()[0]
            if skip_if and skip_if in out:
                pytest.skip(
                    f"the driver could not start its backend: {out.strip().splitlines()[-1]}"
                )
            pytest.fail(f"no unit was stored in {wait_s} s:\n{out}")
        kids = list({p.pid: p for p in kids + _descendants(proc.pid)}.values())
        names = []
        for p in kids:
            try:
                names.append(p.name())
            except Exception:  # noqa: BLE001 - gone meanwhile
                pass
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=60)
    except BaseException:
        _kill(proc, kids)
        raise
    return proc.returncode, out, folder, kids, names


def test_ctrl_c_on_the_driver_stops_the_pool_cleanly(check, tmp_path):
    rc, out, folder, kids, _ = interrupt_driver(tmp_path, ["--workers", "2"], sleep_s=1.5)
    assert rc == 130 and "interrupted" in out, out
    assert len(kids) >= 2  # the workers (and the forkserver) we watched
    assert _all_gone(kids) == [], "a worker outlived the driver"
    kept = stored_files_are_sound(folder)
    assert 1 <= len(kept) < 8
    assert not list(folder.glob(".*.lock"))  # no lock files any more
    # every stored unit is fresh: a rerun (in-process here) computes only the others
    EXPERIMENTS["executor_check"] = check_experiment(steps=60, sleep_s=1.5)
    stored = results.load_results(
        "executor_check", "full", root=tmp_path / "results", allow_incomplete=True
    )
    assert sorted(r.key for r in stored) == kept


def test_the_default_path_never_imports_ray(tmp_path):
    code = textwrap.dedent(
        """
        import sys
        from synlab import results
        from synlab.executor_check import check_experiment
        from synlab.experiments import register
        if __name__ == "__main__":
            register(check_experiment(steps=5))
            for workers in (1, 2):
                results.run_experiment("executor_check", "quick", workers=workers, force=True)
            assert "ray" not in sys.modules, "ray was imported"
        """
    )
    script = tmp_path / "noray.py"
    script.write_text(code)
    env = dict(os.environ, SYNLAB_CACHE_DIR=str(tmp_path / "cache"), PYTHONPATH=str(REPO))
    done = subprocess.run([sys.executable, str(script)], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_address_without_ray_says_how_to_install_it(check, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "ray", None)  # as if Ray were not installed
    assert main(["run", "executor_check", "--address", "local"]) == 2
    assert "synlab[cluster]" in capsys.readouterr().err


# ----------------------------------------------------------------------------- the planner
def test_simulation_hands_tasks_in_order_to_the_first_free_worker():
    from synlab.plan import PlannedTask, simulate

    tasks = [PlannedTask("x", [str(i)], "cpu", s) for i, s in enumerate([4, 1, 1, 1, 3])]
    assert simulate(tasks, 1, 0) == 10
    assert simulate(tasks, 2, 0) == 6  # 4 | 1,1,1,3 -> worker 2 ends at 6
    assert simulate(tasks, 5, 0) == 4
    gpu = tasks + [PlannedTask("y", ["a", "b"], "gpu", 7.0)]
    assert simulate(gpu, 5, 1) == 7  # the pools run side by side


def _record(folder: Path, key: str, **prov):
    path = folder / f"{key}.json"
    payload = json.loads(path.read_text())
    payload["provenance"].update(prov)
    path.write_text(json.dumps(payload))


def test_plan_sizes_runs_from_recorded_times(check, capsys):
    from synlab.plan import plan_run

    root, _ = check
    results.run_experiment("executor_check", "full", root=root)  # 8 units
    folder = root / "full" / "executor_check"
    for s in range(8):  # CPU times 10, 20, ..., 80 s
        _record(folder, f"seed={s}", wall_time_s=10.0 * (s + 1))
    plan = plan_run(["executor_check"], "full", workers=1, root=root)
    assert plan.wall_s == pytest.approx(360) and plan.work_s == pytest.approx(360)
    plan2 = plan_run(["executor_check"], "full", workers=2, root=root, startup_s=3)
    assert plan2.wall_s == pytest.approx(3 + 200)  # 10,30,50,70 | 20,40,60,80 in order
    # a unit recorded only on a GPU is sized by the median CPU unit on CPU workers
    _record(folder, "seed=7", device="cuda:0 (NVIDIA H200)", wall_time_s=1.0, stacked_with=4)
    plan = plan_run(["executor_check"], "full", workers=1, root=root)
    assert plan.work_s == pytest.approx(280 + 40)  # median of 10..70
    assert any("median CPU unit" in t.note for t in plan.tasks)
    # with a GPU the experiment stacks (two groups of 4, by seed parity); a stack costs the
    # sum of its members' shares; members without a GPU time take the median GPU share
    plan = plan_run(["executor_check"], "full", workers=1, gpus=1, root=root)
    assert [t.kind for t in plan.tasks] == ["gpu", "gpu"] and plan.wall_s == pytest.approx(8)
    assert main(["plan", "executor_check", "--profile", "full", "--workers", "2"]) == 0
    assert "predicted wall time" in capsys.readouterr().out


def test_plan_marks_units_it_cannot_size(check):
    from synlab.plan import plan_run

    root, _ = check
    results.run_experiment("executor_check", "quick", root=root)
    folder = root / "quick" / "executor_check"
    for s in range(4):
        _record(folder, f"seed={s}", device="cuda:0 (NVIDIA H200)", wall_time_s=1.0)
    plan = plan_run(["executor_check"], "quick", workers=2, root=root)
    assert len(plan.unsized) == 4 and "not sized" in plan.report() and "≥" in plan.report()
    # units not stored yet take their experiment's median time on the device planned
    _record(folder, "seed=0", device="cpu (2 logical cores, 1 torch threads)", wall_time_s=5.0)
    (folder / "seed=3.json").unlink()
    (folder / "seed=3.npz").unlink()
    plan = plan_run(["executor_check"], "quick", workers=1, root=root, missing_only=True)
    assert [(t.units, t.seconds) for t in plan.tasks] == [(["seed=3"], 5.0)]
    # with a GPU, a unit left alone in its group is no stack: it is planned on a CPU worker
    plan = plan_run(["executor_check"], "quick", workers=1, gpus=1, root=root, missing_only=True)
    assert [(t.units, t.kind) for t in plan.tasks] == [(["seed=3"], "cpu")]
