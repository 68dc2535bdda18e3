"""Datasets: the search order, validation of what is read (idx, CIFAR), errors naming files and paths."""

import gzip
import pickle
import tarfile
from pathlib import Path

import numpy as np
import pytest
import torch

from sweeps.data import IDX_FILES, DataError, load_dataset, read_idx, search_dirs, synthetic

FASHION = Path("/usr/share/datasets/fashion-mnist")


def idx_bytes(array: np.ndarray) -> bytes:
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(int(n).to_bytes(4, "big") for n in array.shape)
    return header + array.astype(np.uint8).tobytes()


def write_idx_set(folder: Path, n_train: int = 64, n_test: int = 32, size: int = 28, gz: bool = True) -> None:
    rng = np.random.default_rng(0)
    folder.mkdir(parents=True, exist_ok=True)
    arrays = {
        "train_x": rng.integers(0, 256, (n_train, size, size)),
        "train_y": rng.integers(0, 10, n_train),
        "test_x": rng.integers(0, 256, (n_test, size, size)),
        "test_y": rng.integers(0, 10, n_test),
    }
    for role, stem in IDX_FILES.items():
        raw = idx_bytes(arrays[role])
        (folder / (stem + ".gz" if gz else stem)).write_bytes(gzip.compress(raw) if gz else raw)


@pytest.fixture(autouse=True)
def no_env_data(monkeypatch):
    monkeypatch.delenv("ANYNET_DATA", raising=False)


@pytest.mark.parametrize("gz", [True, False])
def test_reads_idx_files(tmp_path, gz):
    write_idx_set(tmp_path / "mnist", gz=gz)
    data = load_dataset("mnist", tmp_path)
    assert data.train_x.shape == (64, 1, 28, 28) and data.train_x.dtype == torch.uint8
    assert data.test_y.shape == (32,) and data.test_y.dtype == torch.long
    assert data.source == str(tmp_path / "mnist")
    pixels = data.train_x.double() / 255
    assert data.mean[0] == pytest.approx(pixels.mean().item()) and data.std[0] == pytest.approx(
        pixels.std(unbiased=False).item()
    )


def test_search_order(tmp_path, monkeypatch):
    monkeypatch.setenv("ANYNET_DATA", str(tmp_path / "env"))
    write_idx_set(tmp_path / "env" / "mnist", n_train=48)
    write_idx_set(tmp_path / "explicit", n_train=40)
    assert len(load_dataset("mnist", tmp_path / "explicit").train_y) == 40  # explicit --data-dir first
    assert len(load_dataset("mnist").train_y) == 48  # then $ANYNET_DATA/<name>
    dirs = search_dirs("mnist", tmp_path / "explicit")
    assert dirs == [
        tmp_path / "explicit",
        tmp_path / "explicit" / "mnist",
        tmp_path / "env" / "mnist",
        Path("/usr/share/datasets/mnist"),
        Path.home() / ".cache" / "anynet" / "mnist",
    ]


def test_missing_files_name_the_paths_and_the_fix(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    with pytest.raises(DataError) as e:
        load_dataset("cifar10", tmp_path / "nowhere")
    text = str(e.value)
    assert text.startswith("cifar10: no data found; searched ") and str(tmp_path / "nowhere") in text
    assert "--download" in text and "cifar-10-python.tar.gz" in text
    if not FASHION.is_dir():
        with pytest.raises(DataError, match="apt-get install dataset-fashion-mnist"):
            load_dataset("fashion-mnist", tmp_path / "nowhere")


def corrupt(folder: Path, stem: str, data: bytes) -> Path:
    path = folder / f"{stem}.gz"
    path.write_bytes(data)
    return path


@pytest.mark.parametrize(
    "damage, message",
    [
        (lambda raw: gzip.compress(raw)[:-200], "corrupt or truncated gzip"),
        (lambda raw: gzip.compress(b"\x00\x00\x09\x03" + raw[4:]), "bad magic number 00000903"),
        (lambda raw: gzip.compress(raw[:-5]), r"idx header says \(64, 28, 28\) \(50192 bytes\) but the file has 50187"),
        (lambda raw: b"not gzip at all", "corrupt or truncated gzip"),
    ],
)
def test_damaged_idx_files_are_named(tmp_path, damage, message):
    write_idx_set(tmp_path / "fashion-mnist")
    stem = IDX_FILES["train_x"]
    path = tmp_path / "fashion-mnist" / f"{stem}.gz"
    raw = gzip.decompress(path.read_bytes())
    path.write_bytes(damage(raw))
    with pytest.raises(DataError, match=message) as e:
        load_dataset("fashion-mnist", tmp_path)
    assert str(path) in str(e.value)


def test_label_and_count_checks(tmp_path):
    folder = tmp_path / "mnist"
    write_idx_set(folder)
    (folder / f"{IDX_FILES['test_y']}.gz").write_bytes(gzip.compress(idx_bytes(np.full(32, 12))))
    with pytest.raises(DataError, match=r"test labels outside 0..9 \(found 12..12\)"):
        load_dataset("mnist", tmp_path)
    (folder / f"{IDX_FILES['test_y']}.gz").write_bytes(gzip.compress(idx_bytes(np.zeros(31))))
    with pytest.raises(DataError, match="32 test images but 31 labels"):
        load_dataset("mnist", tmp_path)


def cifar_batch(n: int, label_key: bytes, classes: int) -> bytes:
    rng = np.random.default_rng(n)
    return pickle.dumps(
        {b"data": rng.integers(0, 256, (n, 3072)).astype(np.uint8), label_key: rng.integers(0, classes, n).tolist()}
    )


def test_reads_cifar10_folders_and_archives(tmp_path):
    folder = tmp_path / "cifar10" / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    for i in range(1, 6):
        (folder / f"data_batch_{i}").write_bytes(cifar_batch(20, b"labels", 10))
    (folder / "test_batch").write_bytes(cifar_batch(10, b"labels", 10))
    data = load_dataset("cifar10", tmp_path)
    assert data.train_x.shape == (100, 3, 32, 32) and len(data.test_y) == 10 and len(data.mean) == 3
    archive_root = tmp_path / "archive" / "cifar10"
    archive_root.mkdir(parents=True)
    with tarfile.open(archive_root / "cifar-10-python.tar.gz", "w:gz") as tar:
        tar.add(folder, arcname="cifar-10-batches-py")
    from_archive = load_dataset("cifar10", tmp_path / "archive")
    assert torch.equal(from_archive.train_x, data.train_x) and torch.equal(from_archive.test_y, data.test_y)


def test_cifar100_uses_fine_labels_and_damage_is_named(tmp_path):
    folder = tmp_path / "cifar100"
    folder.mkdir()
    (folder / "train").write_bytes(cifar_batch(30, b"fine_labels", 100))
    (folder / "test").write_bytes(cifar_batch(10, b"fine_labels", 100))
    assert load_dataset("cifar100", tmp_path).num_classes == 100
    (folder / "test").write_bytes(b"\x80\x04garbage")
    with pytest.raises(DataError, match=r"cifar100/test: cannot read CIFAR batch"):
        load_dataset("cifar100", tmp_path)
    (folder / "test").write_bytes(pickle.dumps({b"data": np.zeros((4, 100), np.uint8), b"fine_labels": [0] * 4}))
    with pytest.raises(DataError, match=r"expected N x 3072 pixels and N labels, got \(4, 100\)"):
        load_dataset("cifar100", tmp_path)


def test_unknown_dataset():
    with pytest.raises(DataError, match="dataset: 'svhn' is not one of fashion-mnist, mnist, cifar10"):
        load_dataset("svhn")


def test_read_idx_rejects_short_files(tmp_path):
    path = tmp_path / "x"
    path.write_bytes(b"\x00\x00\x08\x03\x00")
    with pytest.raises(DataError, match="truncated idx header"):
        read_idx(path)


def test_val_split_is_seeded_and_disjoint():
    data = synthetic(n_train=1000, n_test=100)
    a, b = data.with_val_split(0.2, seed=1), data.with_val_split(0.2, seed=1)
    assert len(a.val_y) == 200 and len(a.train_y) == 800 and torch.equal(a.val_x, b.val_x)
    assert not torch.equal(a.val_x, data.with_val_split(0.2, seed=2).val_x)
    with pytest.raises(DataError, match="val_split: must be between 0 and 1"):
        data.with_val_split(1.0)


@pytest.mark.skipif(not FASHION.is_dir(), reason="Fashion-MNIST not installed (apt-get install dataset-fashion-mnist)")
def test_real_fashion_mnist():
    data = load_dataset("fashion-mnist")
    assert data.train_x.shape == (60000, 1, 28, 28) and data.test_x.shape == (10000, 1, 28, 28)
    assert data.mean[0] == pytest.approx(0.2860, abs=1e-3) and data.std[0] == pytest.approx(0.3530, abs=1e-3)
    assert torch.bincount(data.train_y).tolist() == [6000] * 10


def test_imagenet_from_npy_files(tmp_path):
    import numpy as np

    rng = np.random.default_rng(0)
    for split, n in (("train", 12), ("test", 4)):
        np.save(tmp_path / f"{split}_x.npy", rng.integers(0, 256, (n, 3, 8, 8), dtype=np.uint8))
        np.save(tmp_path / f"{split}_y.npy", rng.integers(0, 1000, n))
    data = load_dataset("imagenet", tmp_path)
    assert data.train_x.shape == (12, 3, 8, 8) and data.num_classes == 1000 and data.test_y.dtype == torch.int64
    np.save(tmp_path / "test_x.npy", np.zeros((4, 8, 8), dtype=np.uint8))
    with pytest.raises(DataError, match=r"test_x.npy: images must be uint8 \[N, C, H, W\]"):
        load_dataset("imagenet", tmp_path)
    with pytest.raises(DataError, match="imagenet: no data found.*train_x.npy"):
        load_dataset("imagenet", tmp_path / "empty")
