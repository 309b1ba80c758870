"""Executors: where the tasks of a run compute, behind one interface.

A *task* is one run unit, or one stack of units that train as one computation (the groups the
runner forms, see :func:`synlab.results.run_experiment`). An executor takes a list of tasks and
yields one :class:`Outcome` per task, in the order they finish. Workers only compute: they return
their results to the driver, and the driver alone writes the results store, so no shared disk and
no lock files are needed.

Three backends, chosen by :func:`make_executor`:

``in-process`` (``workers=1``)
    The driver computes each task itself, in order; an exception stops the run, as it always did.
``local-pool`` (``workers=N``, no ``address``)
    N worker processes from the standard library (``forkserver`` start on Linux, ``spawn``
    elsewhere), one CPU and one torch thread each. A worker that dies mid-task (killed, out of
    memory) is replaced and its task retried up to ``max_retries`` times, then reported as failed;
    an exception inside a task is reported at once (it would fail again). With CUDA present, stacks
    run on the GPU(s) (``gpus_per_stack`` of a GPU each, so ``1/F`` stacks share one) side by side
    with the units that cannot stack on the CPU workers.
``ray`` (``address`` given; ``pip install synlab[cluster]``)
    Ray schedules the tasks on a cluster: ``address="auto"`` joins the cluster this machine belongs
    to, ``"ray://HOST:10001"`` or ``"HOST:6379"`` a named one, ``"local"`` starts a private one-node
    instance on 127.0.0.1 with ``workers`` CPUs (tests, benchmarks). Ray retries a task whose
    worker or node died (``max_retries``) and hands GPU work out in fractions
    (``num_gpus=gpus_per_stack``). Ray is imported only here and only for this backend.

Each outcome records the backend, the node (host name) and the device its task computed on; the
runner stores them in the units' provenance.
"""

from __future__ import annotations

import contextlib
import multiprocessing as mp
import os
import pickle
import signal
import socket
import sys
import threading
import time
import traceback
from collections import deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from multiprocessing.connection import wait as _wait
from pathlib import Path
from typing import Any

from .checkpoint import Checkpoint
from .device import describe_device
from .experiments import get_experiment
from .store import unit_key

__all__ = [
    "Task",
    "Outcome",
    "UnitsFailed",
    "Executor",
    "InProcessExecutor",
    "LocalPoolExecutor",
    "RayExecutor",
    "make_executor",
    "run_task",
]

#: environment variables a worker takes from the driver (the settings: device, data, ...)
_ENV_PREFIXES = ("SYNLAB_",)


class UnitsFailed(RuntimeError):
    """Some tasks of a run failed (their worker died too often, or they raised). Everything that
    finished is stored; a rerun computes only the missing units."""

    def __init__(self, failures: list[Outcome]):
        self.failures = failures
        lines = [f"  {o.label}: {o.error.strip().splitlines()[-1]}" for o in failures]
        n_units = sum(len(o.task.units) for o in failures)
        super().__init__(
            f"{len(failures)} task(s) ({n_units} unit(s)) failed; every other unit is stored and "
            "a rerun computes only the missing ones:\n" + "\n".join(lines)
        )


@dataclass(frozen=True)
class Task:
    """One unit, or one stack of units, of one experiment: the smallest thing a worker runs.

    The experiment travels by value when it pickles (a test's experiment), else by name (the
    package's registered experiments, some of which hold lambdas) and the worker looks it up."""

    index: int
    experiment: str
    config: Any
    units: tuple[dict[str, Any], ...]
    gpu: float = 0.0  # the fraction of a GPU the task needs; 0: a CPU task
    blob: bytes | None = field(default=None, repr=False)
    engine: str = "autograd"  # the engine its training steps run on (Experiment.engines)
    #: where a resumable experiment keeps this task's checkpoint, and the run it belongs to:
    #: ``(path, fingerprint)`` (synlab.checkpoint); None: not resumable
    checkpoint: tuple[str, dict[str, Any]] | None = None

    @staticmethod
    def make(
        index: int,
        exp: Any,
        config: Any,
        units: Sequence[dict[str, Any]],
        gpu: float = 0.0,
        engine: str = "autograd",
        checkpoint: tuple[str, dict[str, Any]] | None = None,
    ):
        try:
            blob = pickle.dumps(exp)
        except (pickle.PicklingError, AttributeError, TypeError):
            blob = None
        units = tuple(dict(u) for u in units)
        return Task(index, exp.name, config, units, gpu, blob, engine, checkpoint)

    def resolve(self) -> Any:
        if self.blob is not None:
            return pickle.loads(self.blob)
        return get_experiment(self.experiment)


@dataclass
class Outcome:
    """What came back for one task: one result per unit (or an error), the task's wall time,
    where it ran (``info``: backend, node, device) and how many times it was started."""

    task: Task
    results: list[dict[str, Any]] | None
    wall_s: float = 0.0
    info: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    attempts: int = 1

    @property
    def label(self) -> str:
        keys = [unit_key(u) for u in self.task.units]
        more = f" (+{len(keys) - 1} stacked)" if len(keys) > 1 else ""
        return f"{self.task.experiment} {keys[0]}{more}"


def run_task(task: Task, backend: str, device: str | None = None) -> tuple[list, float, dict]:
    """Compute one task here: its results (one dict per unit), wall time and where it ran.

    ``device`` (``"cpu"``, ``"cuda:0"`` ...) is set as ``SYNLAB_DEVICE`` for the task, which is
    how experiments pick their device; ``None`` keeps this process's choice."""
    if device is not None:
        os.environ["SYNLAB_DEVICE"] = device
    exp = task.resolve()
    units = [dict(u) for u in task.units]
    ck = None
    if task.checkpoint is not None:
        path, fingerprint = task.checkpoint
        ck = Checkpoint(Path(path), dict(fingerprint))
    t0 = time.perf_counter()
    results = [dict(r) for r in exp.compute(task.config, units, task.engine, ck)]
    if len(results) != len(units):
        raise RuntimeError(
            f"{exp.name}: run_group returned {len(results)} results for {len(units)} units"
        )
    wall = time.perf_counter() - t0
    info: dict[str, Any] = {
        "backend": backend,
        "node": socket.gethostname(),
        "device": describe_device(device),
    }
    if ck is not None and ck.segments:  # resumed: the stopped segments' time counts too
        wall += ck.earlier_wall_s()
        info["segments"] = ck.segments
    return results, wall, info


def _driver_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k.startswith(_ENV_PREFIXES)}


def _one_thread() -> None:
    import torch

    torch.set_num_threads(1)
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:  # already set, or inter-op work has started
        pass


class Executor:
    """Runs tasks; ``run`` yields outcomes as they finish. Use as a context manager."""

    backend = "?"
    #: parallel CPU slots and GPU slots (what :mod:`synlab.plan` simulates)
    cpu_slots = 1
    gpu_slots = 0

    def run(self, tasks: Sequence[Task]) -> Iterator[Outcome]:
        raise NotImplementedError

    def gpu_device_for(self, stacked: bool) -> bool:
        """Whether a task of an experiment that stacks (``stacked``) gets a share of a GPU."""
        return False

    def close(self, kill: bool = False) -> None:
        """Release the workers; ``kill``: at once, without waiting for tasks in flight."""

    def __enter__(self):
        return self

    def __exit__(self, exc_type, *exc) -> None:
        self.close(kill=exc_type is not None)


class InProcessExecutor(Executor):
    """The driver computes every task itself, in order (``--workers 1``)."""

    backend = "in-process"

    def __init__(self, device: Any = None):
        self.device = None if device is None else str(device)

    def run(self, tasks: Sequence[Task]) -> Iterator[Outcome]:
        for task in tasks:
            results, wall, info = run_task(task, self.backend, self.device)
            yield Outcome(task, results, wall, info)


@contextlib.contextmanager
def _ctrl_c_seen():
    """A list that gets an entry when Ctrl-C (SIGINT) arrives, while the block runs, instead of
    the KeyboardInterrupt (the caller raises it). Outside the main thread, where no handler can
    be set, it stays empty and Ctrl-C acts as usual."""
    seen: list[int] = []
    if threading.current_thread() is not threading.main_thread():
        yield seen
        return
    before = signal.signal(signal.SIGINT, lambda signum, frame: seen.append(signum))
    try:
        yield seen
    finally:
        signal.signal(signal.SIGINT, before)


# ----------------------------------------------------------------------------- local pool
def _worker_main(conn, env: dict[str, str], device: str) -> None:
    """A pool worker: ignore Ctrl-C (the driver stops us), one torch thread, then run tasks
    sent over ``conn`` until it sends ``None``."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    for k in [k for k in os.environ if k.startswith(_ENV_PREFIXES)]:
        del os.environ[k]
    os.environ.update(env)
    os.environ["SYNLAB_WORKER"] = "1"
    os.environ["OMP_NUM_THREADS"] = "1"
    _one_thread()
    while True:
        try:
            task = conn.recv()
        except EOFError:
            return
        if task is None:
            return
        try:
            out = ("ok", run_task(task, LocalPoolExecutor.backend, device))
        except BaseException as err:  # noqa: BLE001 - reported to the driver, which decides
            out = ("error", f"{type(err).__name__}: {err}\n{traceback.format_exc()}")
        try:
            conn.send(out)
        except Exception as err:  # noqa: BLE001 - e.g. a result that does not pickle
            conn.send(("error", f"could not return the result: {type(err).__name__}: {err}"))


def _context():
    if sys.platform.startswith("linux"):
        ctx = mp.get_context("forkserver")
        ctx.set_forkserver_preload(["synlab.executor", "torch"])
        return ctx
    return mp.get_context("spawn")


@dataclass
class _Worker:
    proc: Any
    conn: Any
    device: str
    task: Task | None = None
    started: float = 0.0


class LocalPoolExecutor(Executor):
    """``workers`` processes on this machine, one CPU and one torch thread each (plus, with CUDA,
    ``int(1 / gpus_per_stack)`` stack workers per GPU). Dead workers are replaced and their task
    retried up to ``max_retries`` times."""

    backend = "local-pool"

    def __init__(
        self, workers: int, *, gpus_per_stack: float = 1.0, max_retries: int = 2, gpus: int = -1
    ):
        if workers < 1:
            raise ValueError(f"workers must be at least 1; got {workers}")
        if not 0 < gpus_per_stack <= 1:
            raise ValueError(f"gpus_per_stack must be in (0, 1]; got {gpus_per_stack}")
        if gpus < 0:
            gpus = _cuda_count()
        self.cpu_slots = workers
        self.gpus = gpus
        self.gpu_slots = gpus * max(1, int(1 / gpus_per_stack + 1e-9))
        self.max_retries = max_retries
        self._ctx = _context()
        self._workers: list[_Worker] = []
        self._env = _driver_env()

    def gpu_device_for(self, stacked: bool) -> bool:
        return stacked and self.gpu_slots > 0

    def _start(self, device: str) -> _Worker:
        parent, child = self._ctx.Pipe()
        proc = self._ctx.Process(
            target=_worker_main, args=(child, self._env, device), name=f"synlab-worker-{device}"
        )
        proc.start()
        child.close()
        w = _Worker(proc, parent, device)
        self._workers.append(w)
        return w

    def _retire(self, w: _Worker) -> None:
        self._workers.remove(w)
        try:
            w.conn.close()
        except OSError:
            pass
        if w.proc.is_alive():
            w.proc.kill()
        w.proc.join(timeout=5)

    def _assign(self, queues: dict[str, deque], attempts: dict[int, int]) -> None:
        """Give the head of each queue to an idle worker of its kind, starting workers up to the
        kind's slots (CPU workers, or stack workers spread over the GPUs)."""
        for kind, queue in queues.items():
            slots = self._slots[kind]
            while queue:
                mine = [w for w in self._workers if w.device in slots]
                idle = [w for w in mine if w.task is None]
                if idle:
                    w = idle[0]
                elif len(mine) < len(slots):
                    taken = [w.device for w in mine]
                    w = self._start(min(slots, key=taken.count))
                else:
                    break
                task = queue.popleft()
                try:
                    w.conn.send(task)
                except OSError:  # it died while idle: replace it, the task goes first again
                    self._retire(w)
                    queue.appendleft(task)
                    continue
                attempts[task.index] = attempts.get(task.index, 0) + 1
                w.task = task

    def run(self, tasks: Sequence[Task]) -> Iterator[Outcome]:
        queues = {
            "cpu": deque(t for t in tasks if not t.gpu),
            "gpu": deque(t for t in tasks if t.gpu),
        }
        per_gpu = self.gpu_slots // self.gpus if self.gpus else 0
        self._slots = {
            "cpu": ["cpu"] * self.cpu_slots,
            "gpu": [f"cuda:{i}" for i in range(self.gpus) for _ in range(per_gpu)],
        }
        if queues["gpu"] and not self._slots["gpu"]:
            raise ValueError("GPU tasks were formed but this machine has no GPU")
        attempts: dict[int, int] = {}
        try:
            while True:
                self._assign(queues, attempts)
                busy = [w for w in self._workers if w.task is not None]
                if not busy:
                    return
                ready = set(_wait([w.conn for w in busy] + [w.proc.sentinel for w in busy]))
                for w in busy:
                    if w.conn not in ready and w.proc.sentinel not in ready:
                        continue
                    task, w.task = w.task, None
                    n = attempts[task.index]
                    try:
                        status, payload = w.conn.recv()
                    except (EOFError, OSError):  # the worker died mid-task
                        w.proc.join(timeout=5)
                        code = w.proc.exitcode
                        self._retire(w)
                        if n <= self.max_retries:
                            queues["gpu" if task.gpu else "cpu"].appendleft(task)
                            continue
                        why = f"signal {-code}" if code is not None and code < 0 else f"exit {code}"
                        err = f"worker died ({why}) on each of {n} attempts"
                        yield Outcome(task, None, error=err, attempts=n)
                        continue
                    if status == "ok":
                        results, wall, info = payload
                        yield Outcome(task, results, wall, info, attempts=n)
                    else:
                        yield Outcome(task, None, error=payload, attempts=n)
        except BaseException:
            self.close(kill=True)
            raise

    def close(self, kill: bool = False) -> None:
        """Stop every worker: ask politely (after a normal run), else kill (Ctrl-C, errors)."""
        for w in list(self._workers):
            if not kill and w.task is None and w.proc.is_alive():
                try:
                    w.conn.send(None)
                except OSError:
                    pass
        for w in list(self._workers):
            if not kill:
                w.proc.join(timeout=10)
            self._retire(w)


def _cuda_count() -> int:
    try:
        import torch

        return torch.cuda.device_count() if torch.cuda.is_available() else 0
    except Exception:  # noqa: BLE001
        return 0


# ----------------------------------------------------------------------------- Ray
def _ray_task(task: Task, device: str) -> tuple[list, float, dict]:
    """A Ray task: one torch thread, the device Ray gave it, and this node's name."""
    os.environ["SYNLAB_WORKER"] = "1"
    _one_thread()
    return run_task(task, RayExecutor.backend, device)


def _import_ray():
    try:
        import ray
    except ImportError as err:
        raise ValueError(
            "--address needs Ray, an optional extra: pip install 'synlab[cluster]' "
            "(or use --workers N for a local process pool)"
        ) from err
    return ray


def _loopback_only(ray) -> None:
    """Make a private Ray instance bind to 127.0.0.1: Ray replaces a loopback node address by the
    machine's network address unless clusters are switched off, as it does on Windows and macOS
    (``RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0``, read when Ray is imported; set for the processes it
    starts, and in this one)."""
    os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"
    try:
        ray._private.ray_constants.ENABLE_RAY_CLUSTER = False
    except AttributeError:  # another Ray version: its own default applies
        pass


class RayExecutor(Executor):
    """Tasks as Ray tasks (``num_cpus=1``; stacks ``num_gpus=gpus_per_stack`` when the cluster
    has GPUs). ``address="local"`` starts a private instance on 127.0.0.1 and stops it on close;
    an address of a running cluster (or a Ray already initialised by the caller) is only joined,
    and left running."""

    backend = "ray"

    def __init__(
        self,
        address: str,
        *,
        workers: int | None = None,
        gpus_per_stack: float = 1.0,
        max_retries: int = 2,
    ):
        ray = _import_ray()
        self.ray = ray
        self.owns = False
        # the driver's SYNLAB_* switches travel with each task (Ray workers on other nodes do
        # not share this process's environment)
        self._env = dict(_driver_env(), OMP_NUM_THREADS="1")
        if not ray.is_initialized():
            if address == "local":
                _loopback_only(ray)
                ray.init(
                    num_cpus=workers or os.cpu_count(),
                    _node_ip_address="127.0.0.1",
                    include_dashboard=False,
                    log_to_driver=False,
                    configure_logging=False,
                )
                self.owns = True
            else:
                ray.init(address=address, log_to_driver=False)
        res = ray.cluster_resources()
        self.cpu_slots = int(res.get("CPU", 1))
        self.gpus = int(res.get("GPU", 0))
        self.gpus_per_stack = gpus_per_stack
        self.gpu_slots = self.gpus * max(1, int(1 / gpus_per_stack + 1e-9))
        self.max_retries = max_retries
        self._remote = ray.remote(_ray_task)
        self._pending: dict[Any, Task] = {}

    def gpu_device_for(self, stacked: bool) -> bool:
        return stacked and self.gpus > 0

    def run(self, tasks: Sequence[Task]) -> Iterator[Outcome]:
        ray = self.ray
        for task in tasks:
            opts = {
                "num_cpus": 1,
                "max_retries": self.max_retries,
                "retry_exceptions": False,
                "runtime_env": {"env_vars": self._env},
            }
            if task.gpu:
                opts["num_gpus"] = task.gpu
            ref = self._remote.options(**opts).remote(task, "cuda" if task.gpu else "cpu")
            self._pending[ref] = task
        try:
            with _ctrl_c_seen() as seen:
                while self._pending:
                    # ray.wait swallows a Ctrl-C that arrives while it blocks (Ray 2.x: it
                    # returns when a task is done, the KeyboardInterrupt lost): a handler notes
                    # it, and short waits let this loop raise it within half a second
                    done, _ = ray.wait(list(self._pending), num_returns=1, timeout=0.5)
                    if seen:
                        raise KeyboardInterrupt
                    for ref in done:
                        task = self._pending.pop(ref)
                        try:
                            results, wall, info = ray.get(ref)
                        except ray.exceptions.RayError as err:
                            yield Outcome(task, None, error=f"{type(err).__name__}: {err}")
                            continue
                        yield Outcome(task, results, wall, info)
        except BaseException:
            self.close()
            raise

    def close(self, kill: bool = False) -> None:
        """Stop what is still running: a private instance is shut down whole, which ends its
        tasks; on a joined cluster each pending task is cancelled (forced), and the cluster is
        left running. A private instance's tasks are not cancelled first: a forced cancel that
        crosses a task's reply can abort the driver inside Ray (seen with Ray 2.x on Ctrl-C:
        "Check failed: … Tried to complete task that was not pending")."""
        if self.owns and self.ray.is_initialized():
            self._pending.clear()
            self.ray.shutdown()
            self.owns = False
            return
        for ref in list(self._pending):
            try:
                self.ray.cancel(ref, force=True)
            except Exception:  # noqa: BLE001 - already finished or its node is gone
                pass
        self._pending.clear()


def make_executor(
    workers: int = 1,
    address: str | None = None,
    *,
    gpus_per_stack: float = 1.0,
    device: Any = None,
    max_retries: int = 2,
) -> Executor:
    """The executor for ``synlab run --workers N [--address ADDR] [--gpus-per-stack F]``."""
    if address:
        return RayExecutor(
            address,
            workers=workers if workers > 1 else None,
            gpus_per_stack=gpus_per_stack,
            max_retries=max_retries,
        )
    if workers <= 1:
        return InProcessExecutor(device)
    return LocalPoolExecutor(workers, gpus_per_stack=gpus_per_stack, max_retries=max_retries)
