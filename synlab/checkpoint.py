"""Checkpoints within one unit: a long training run saves its state at the end of an epoch, so a
run stopped part-way (the session ends, the worker is killed, Ctrl-C) resumes where it stopped.

A paper-scale Malkin unit trains for about two hours on one CPU core; without this, stopping it
at 1 h 59 min loses everything. A paper-scale lifelong unit (Schug et al.) takes from half an
hour to hours; it saves at task ends instead (:func:`synlab.continual.train_sequentially`).
The runner (:mod:`synlab.results`) gives each task of an
experiment that declares ``resumable=True`` a :class:`Checkpoint`: a file under
``<results root>/partial/<profile>/<experiment>/`` and a *fingerprint* (the experiment, its
config hash, the units, the engine and the code's git commit). A training loop calls
:meth:`Checkpoint.resume` before its first epoch and :meth:`Checkpoint.epoch_done` after each.

The state saved is everything the rest of the run depends on, including the random generators'
states, so a resumed run gives the same numbers, bitwise, as one that was never stopped
(``tests/test_checkpoint.py``). A checkpoint is used only by a run with the same fingerprint:
a different config, engine or commit starts over (and says so), since the unit's provenance
must name the one code version that computed it. (A modified working tree, ``+dirty``, cannot
be told from another modified one; its units fail ``synlab status --check`` and are never
committed, so a resumed one is no worse.)

Each *part* of the state is an object with ``state_dict()`` and ``load_state_dict(state)`` (a
module, :class:`~synlab.ensemble.StackedAdam`, a collector such as
:class:`~synlab.ensemble.SynapseStats`) or a :class:`torch.Generator`.
"""

from __future__ import annotations

import datetime as _dt
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

__all__ = ["Checkpoint", "DEFAULT_EVERY_S", "describe"]

#: how often a due checkpoint is written (at the end of the first epoch after this many seconds)
DEFAULT_EVERY_S = 300.0


def _state(part: Any) -> Any:
    if isinstance(part, torch.Generator):
        return part.get_state()
    return part.state_dict()


def _load(part: Any, state: Any) -> None:
    if isinstance(part, torch.Generator):
        part.set_state(state)
    else:
        part.load_state_dict(state)


@dataclass
class Checkpoint:
    """Where one task saves its training state, and which run may resume from it.

    ``extra``: parts the caller adds to what the training loop saves (its collectors), by name;
    :meth:`include` adds more. ``segments``: the earlier, stopped parts of this
    run (date, epochs done, wall seconds), filled by :meth:`resume`; the runner records them in
    the unit's provenance."""

    path: Path
    fingerprint: dict[str, Any]
    every_s: float = field(default_factory=lambda: DEFAULT_EVERY_S)  # read when made
    extra: dict[str, Any] = field(default_factory=dict)
    segments: list[dict[str, Any]] = field(default_factory=list)
    _start: float = field(default_factory=time.monotonic, repr=False)
    _last: float = field(default_factory=time.monotonic, repr=False)

    def include(self, **parts: Any) -> Checkpoint:
        """Also save ``parts`` (e.g. ``stats=SynapseStats(...)``); returns this checkpoint."""
        self.extra.update(parts)
        return self

    def resume(self, parts: Mapping[str, Any]) -> int:
        """Load the saved state into ``parts`` (and :attr:`extra`); the number of epochs it had
        finished (0: nothing to resume: no file, or one made for another run)."""
        path = Path(self.path)
        if not path.exists():
            return 0
        try:
            saved = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as err:  # a torn or foreign file: the run starts over, and says so
            print(f"checkpoint {path}: unreadable ({type(err).__name__}); starting over")
            return 0
        if saved.get("fingerprint") != self.fingerprint:
            theirs = saved.get("fingerprint") or {}
            diff = sorted(
                k
                for k in {**theirs, **self.fingerprint}
                if theirs.get(k) != self.fingerprint.get(k)
            )
            print(
                f"checkpoint {path}: made by another run (it differs in {', '.join(diff)}); "
                "starting over"
            )
            return 0
        everything = {**parts, **self.extra}
        missing = sorted(set(everything) - set(saved["state"]))
        if missing:
            print(f"checkpoint {path}: lacks {', '.join(missing)}; starting over")
            return 0
        for name, part in everything.items():
            _load(part, saved["state"][name])
        self.segments = list(saved["segments"])
        epochs = int(saved["epochs_done"])
        print(f"checkpoint {path}: resuming after {saved.get('what', 'epoch')} {epochs}")
        return epochs

    def epoch_done(
        self, epochs: int, parts: Mapping[str, Any], *, last: bool = False, what: str = "epoch"
    ) -> None:
        """Save the state after ``epochs`` epochs if :attr:`every_s` seconds have passed since
        the last save (never after the last epoch: the unit is stored then). ``what``: the loop's
        step, if not an epoch (a lifelong run saves at task ends), for the messages."""
        if last or time.monotonic() - self._last < self.every_s:
            return
        everything = {**parts, **self.extra}
        payload = {
            "fingerprint": self.fingerprint,
            "epochs_done": int(epochs),
            "what": what,
            "state": {name: _state(part) for name, part in everything.items()},
            "segments": self.segments + [self._segment(epochs, what)],
        }
        path = Path(self.path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        torch.save(payload, tmp)
        os.replace(tmp, path)  # atomic: a kill mid-save leaves the previous checkpoint whole
        self._last = time.monotonic()

    def _segment(self, epochs: int, what: str) -> dict[str, Any]:
        now = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
        return {
            "until": now,
            "epochs_done": int(epochs),
            "what": what,
            "wall_s": round(time.monotonic() - self._start, 3),
        }

    def earlier_wall_s(self) -> float:
        """Seconds the earlier, stopped segments ran until their last save."""
        return sum(s["wall_s"] for s in self.segments)


def describe(path: Path | str) -> str:
    """One line on a checkpoint file, for ``synlab status``: its task, epochs done and when."""
    path = Path(path)
    try:  # mapped, not read: only a few small fields are needed, not the saved tensors
        saved = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
        last = saved["segments"][-1]
        fp = saved["fingerprint"]
    except Exception as err:
        return f"{path.name}: unreadable ({type(err).__name__})"
    what = saved.get("what", "epoch")
    return (
        f"{path.stem}: {saved['epochs_done']} {what}s done, saved {last['until']} "
        f"({fp.get('engine')}, commit {str(fp.get('git_commit'))[:12]})"
    )
