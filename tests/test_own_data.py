"""A user's own data: image folders and arrays listed, split, decoded once into a memory-mapped cache, checked,
named in one-line errors; the sweep file's dataset path and images options; a sweep folder's data record."""

import json
import os
import pickle
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from PIL import Image

from anynet.cli import main
from sweeps import own_data
from sweeps.config import SweepError, load_sweep, sweep_from_dict
from sweeps.data import CachedDataset, load_dataset, opened
from sweeps.decode import TooSmall, fit, read_image
from sweeps.image_source import DataError, ImageOptions, fingerprint, is_path, read_source
from sweeps.own_data import moments, open_cache, split_rows
from sweeps.run import check_data, sweep_data
from sweeps.store import SweepFolder

# (suffix, mode, (width, height)): every format and mode a class folder mixes, each size different
KINDS = [
    ("png", "RGB", (17, 12)),
    ("jpg", "RGB", (20, 14)),
    ("webp", "RGB", (16, 16)),
    ("png", "L", (13, 13)),
    ("png", "RGBA", (18, 12)),
    ("png", "P", (15, 15)),
]


@pytest.fixture(autouse=True)
def cache(tmp_path, monkeypatch):
    """Every test decodes into its own cache folder, never ~/.cache."""
    monkeypatch.setenv("ANYNET_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("ANYNET_DATA", raising=False)
    return tmp_path / "cache" / "decoded"


def save(path: Path, pixels: np.ndarray, mode: str | None = None, **kwargs) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    image = Image.fromarray(pixels)
    image = image.convert(mode) if mode and mode != image.mode else image
    image.save(path, **kwargs)
    return path


def noise(rng, w: int, h: int, channels: int = 3) -> np.ndarray:
    shape = (h, w) if channels == 1 else (h, w, channels)
    return rng.integers(0, 256, shape, dtype=np.uint8)


def image_folder(root: Path, classes=("a", "b"), per_class: int = 5, size: int = 10, seed: int = 0) -> dict:
    """RGB PNGs of random pixels, numbered across the classes (000 in the first class, 001 in the second, ...);
    returns {relative path: (label, HWC pixels)} in file-name order."""
    rng = np.random.default_rng(seed)
    names = sorted(classes)
    out = {}
    for k in range(per_class * len(classes)):
        name = classes[k % len(classes)]
        pixels = noise(rng, size, size)
        save(root / name / f"{k:03d}.png", pixels)
        out[f"{name}/{k:03d}.png"] = (names.index(name), pixels)
    return out


def chw(pixels: np.ndarray) -> np.ndarray:
    return pixels.transpose(2, 0, 1) if pixels.ndim == 3 else pixels[None]


def run_cli(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def decoded_dirs(cache: Path) -> list[Path]:
    return sorted(cache.iterdir()) if cache.is_dir() else []


def mapped_from(tensor: torch.Tensor, path: Path) -> bool:
    """Whether the tensor's memory lies in a mapping of the file (Linux: /proc/self/maps)."""
    target, address = os.path.realpath(path), tensor.data_ptr()
    for line in Path("/proc/self/maps").read_text().splitlines():
        parts = line.split(maxsplit=5)
        if len(parts) == 6 and parts[5] == target:
            low, high = (int(v, 16) for v in parts[0].split("-"))
            if low <= address < high:
                return True
    return False


def identify(x: torch.Tensor, candidates: list[np.ndarray]) -> list[int]:
    """The index of the candidate each image of x equals, pixel for pixel (exactly one)."""
    found = []
    for image in x.numpy():
        hits = [k for k, c in enumerate(candidates) if np.array_equal(image, c)]
        assert len(hits) == 1, f"{len(hits)} candidates equal an image"
        found += hits
    return found


# 1. an ImageFolder of mixed formats, modes and sizes


def mixed_folder(root: Path) -> tuple[list[Path], list[int]]:
    """3 classes x 6 images, one of each KIND per class, numbered across the classes; (files, labels) in file
    order. The class folders are made in unsorted order: labels follow the sorted names."""
    rng = np.random.default_rng(1)
    made, names = ("dog", "cat", "bird"), ("bird", "cat", "dog")
    files, labels = [], []
    for k in range(18):
        suffix, mode, (w, h) = KINDS[k // 3]
        pixels = noise(rng, w, h, 4 if mode == "RGBA" else 3)
        kwargs = {"quality": 95} if suffix == "jpg" else {}
        files.append(save(root / made[k % 3] / f"{k:03d}.{suffix}", pixels, mode, **kwargs))
        labels.append(names.index(made[k % 3]))
    return files, labels


def test_mixed_image_folder_loads_split_and_labelled(tmp_path, capsys):
    files, labels = mixed_folder(tmp_path / "pets")
    assert {Image.open(f).mode for f in files} == {"RGB", "L", "RGBA", "P"}
    assert len({Image.open(f).size for f in files}) == 6
    data = load_dataset(str(tmp_path / "pets"), images=ImageOptions(resolution=10))
    assert data.classes == ("bird", "cat", "dog") and data.num_classes == 3
    assert data.name == "pets" and data.source == str(tmp_path / "pets")
    for x in (data.train_x, data.test_x):
        assert x.dtype == torch.uint8 and tuple(x.shape[1:]) == (3, 10, 10)
    assert (len(data.train_y), len(data.test_y)) == (15, 3)  # round(0.2 * 6) = 1 of each class held out
    assert data.train_y.dtype == torch.int64 and data.val_x is None
    # every image is one file's decoding, each file once, in file order within a split, with its class's label
    expected = [read_image(str(f), 10, True)[0] for f in files]
    train, test = identify(data.train_x, expected), identify(data.test_x, expected)
    assert train == sorted(train) and test == sorted(test) and sorted(train + test) == list(range(18))
    assert data.train_y.tolist() == [labels[k] for k in train] and data.test_y.tolist() == [labels[k] for k in test]
    assert sorted(data.test_y.tolist()) == [0, 1, 2]
    # grayscale images are repeated over the 3 channels of a colour set
    gray = [k for k, f in enumerate(files) if Image.open(f).mode == "L"]
    assert all(np.array_equal(expected[k][0], expected[k][2]) for k in gray)
    # mean and std: per channel over the training images, in [0, 1]
    pixels = data.train_x.numpy().astype(np.float64) / 255
    assert data.mean == pytest.approx(pixels.mean(axis=(0, 2, 3)).tolist(), abs=1e-12)
    assert data.std == pytest.approx(pixels.std(axis=(0, 2, 3)).tolist(), abs=1e-12)
    summary = data.summary()
    assert summary["images"] == {"train": 15, "test": 3}
    assert summary["per_class"] == {"train": [5, 5, 5], "test": [1, 1, 1]}
    assert (summary["channels"], summary["resolution"], summary["classes"]) == (3, 10, ["bird", "cat", "dog"])
    assert summary["kind"] == "folder" and summary["skipped"] == 0
    assert "decoding 18 images at 10 px" in capsys.readouterr().out


def test_the_stratified_split_is_seeded(tmp_path, monkeypatch):
    image_folder(tmp_path / "imgs", per_class=10)
    first = load_dataset(str(tmp_path / "imgs"), images=ImageOptions(resolution=10))
    monkeypatch.setenv("ANYNET_CACHE", str(tmp_path / "other-cache"))
    second = load_dataset(str(tmp_path / "imgs"), images=ImageOptions(resolution=10))
    assert second.cache != first.cache and Path(second.cache).parent.parent == tmp_path / "other-cache"
    assert torch.equal(first.test_x, second.test_x) and torch.equal(first.train_x, second.train_x)
    assert torch.equal(first.test_y, second.test_y) and sorted(first.test_y.tolist()) == [0, 0, 1, 1]
    half = load_dataset(str(tmp_path / "imgs"), images=ImageOptions(resolution=10, test_split=0.5))
    assert (len(half.train_y), len(half.test_y)) == (10, 10)


def test_all_grayscale_images_give_one_channel(tmp_path):
    rng = np.random.default_rng(2)
    originals = {}
    for k in range(8):
        name, suffix = "ab"[k % 2], ("png", "jpg", "png", "png")[k // 2]
        mode = "LA" if k // 2 == 3 else "L"
        pixels = noise(rng, 12, 12, 1)
        path = save(tmp_path / "g" / name / f"{k:03d}.{suffix}", pixels, mode)
        originals[k] = np.asarray(Image.open(path).convert("L"))  # the JPEG's own decoding
    data = load_dataset(str(tmp_path / "g"), images=ImageOptions(resolution=12, test_split=0.25))
    assert tuple(data.train_x.shape) == (6, 1, 12, 12) and tuple(data.test_x.shape) == (2, 1, 12, 12)
    assert len(data.mean) == len(data.std) == 1
    found = identify(torch.cat([data.train_x, data.test_x]), [p[None] for p in originals.values()])
    assert sorted(found) == list(range(8))
    assert torch.cat([data.train_y, data.test_y]).tolist() == [k % 2 for k in found]


def test_one_colour_image_makes_the_set_colour(tmp_path):
    rng = np.random.default_rng(3)
    for k in range(6):
        save(tmp_path / "g" / "ab"[k % 2] / f"{k:03d}.png", noise(rng, 8, 8, 1))
    colour = noise(rng, 8, 8)
    save(tmp_path / "g" / "a" / "100.png", colour)
    data = load_dataset(str(tmp_path / "g"), images=ImageOptions(resolution=8))
    assert data.in_channels == 3
    everything = torch.cat([data.train_x, data.test_x]).numpy()
    assert sum(np.array_equal(image, chw(colour)) for image in everything) == 1
    gray = [image for image in everything if not np.array_equal(image, chw(colour))]
    assert len(gray) == 6 and all(np.array_equal(g[0], g[1]) and np.array_equal(g[0], g[2]) for g in gray)


def test_hidden_and_non_image_files_are_ignored(tmp_path, capsys):
    files = image_folder(tmp_path / "imgs", per_class=3)
    (tmp_path / "imgs" / "a" / "notes.txt").write_text("not an image")
    (tmp_path / "imgs" / "a" / ".hidden.png").write_bytes(b"junk")
    (tmp_path / "imgs" / ".git").mkdir()
    save(tmp_path / "imgs" / "b" / "deeper" / "UPPER.PNG", noise(np.random.default_rng(4), 10, 10))
    source = read_source(tmp_path / "imgs")
    assert source.classes == ("a", "b")
    assert [f for f, _ in source.files["train"]] == list(files) + ["b/deeper/UPPER.PNG"]
    data = load_dataset(str(tmp_path / "imgs"), images=ImageOptions(resolution=10))
    assert len(data.train_y) + len(data.test_y) == 7 and data.provenance["skipped"] == 0
    assert "skipped" not in capsys.readouterr().err


# 2. fit: the shorter side resized to the resolution, then the centre crop


def test_fit_resizes_the_shorter_side_then_crops_the_centre():
    rng = np.random.default_rng(5)
    wide = Image.fromarray(noise(rng, 40, 20))  # 40 wide, 20 high
    out = fit(wide, 10, True)
    assert out.size == (10, 10)
    expected = wide.resize((20, 10), Image.Resampling.BILINEAR).crop((5, 0, 15, 10))
    assert np.array_equal(np.asarray(out), np.asarray(expected))
    tall = Image.fromarray(noise(rng, 20, 40))
    expected = tall.resize((10, 20), Image.Resampling.BILINEAR).crop((0, 5, 10, 15))
    assert np.array_equal(np.asarray(fit(tall, 10, True)), np.asarray(expected))
    small = Image.fromarray(noise(rng, 6, 8))  # enlarged: shorter side 6 -> 12, longer 8 -> 16
    expected = small.resize((12, 16), Image.Resampling.BILINEAR).crop((0, 2, 12, 14))
    assert np.array_equal(np.asarray(fit(small, 12, True)), np.asarray(expected))


def test_fit_keeps_an_image_of_the_resolution_pixel_for_pixel(tmp_path):
    pixels = noise(np.random.default_rng(6), 10, 10)
    assert np.array_equal(np.asarray(fit(Image.fromarray(pixels), 10, True)), pixels)
    path = save(tmp_path / "x.png", pixels)
    decoded, gray = read_image(str(path), 10, True)
    assert not gray and np.array_equal(decoded, chw(pixels))


def test_fit_without_resize_only_crops():
    rng = np.random.default_rng(7)
    a = noise(rng, 14, 12)  # 14 wide, 12 high: left (14 - 10) / 2 = 2, top 1
    assert np.array_equal(np.asarray(fit(Image.fromarray(a), 10, False)), a[1:11, 2:12])
    b = noise(rng, 15, 10)  # left round(2.5) = 2, as torchvision's CenterCrop
    assert np.array_equal(np.asarray(fit(Image.fromarray(b), 10, False)), b[0:10, 2:12])
    c = noise(rng, 10, 30)
    assert np.array_equal(np.asarray(fit(Image.fromarray(c), 10, False)), c[10:20])
    with pytest.raises(TooSmall, match="8 x 12"):
        fit(Image.fromarray(noise(rng, 8, 12)), 10, False)


def test_pngs_at_the_resolution_load_exactly(tmp_path):
    files = image_folder(tmp_path / "imgs", classes=("x", "y", "z"), per_class=5, size=10)
    data = load_dataset(str(tmp_path / "imgs"), images=ImageOptions(resolution=10))
    originals = [chw(p) for _, p in files.values()]
    train, test = identify(data.train_x, originals), identify(data.test_x, originals)
    assert sorted(train + test) == list(range(15)) and train == sorted(train) and test == sorted(test)
    assert data.train_y.tolist() == [k % 3 for k in train] and data.test_y.tolist() == [k % 3 for k in test]


def test_no_resize_crops_the_images(tmp_path):
    rng = np.random.default_rng(8)
    originals = []
    for k in range(10):
        pixels = noise(rng, 16, 12)
        save(tmp_path / "imgs" / "ab"[k % 2] / f"{k:03d}.png", pixels)
        originals.append(chw(pixels[1:11, 3:13]))
    data = load_dataset(str(tmp_path / "imgs"), images=ImageOptions(resolution=10, resize=False))
    assert sorted(identify(torch.cat([data.train_x, data.test_x]), originals)) == list(range(10))


# 3. split folders and the file order


def split_folder(root: Path, val: bool = False) -> dict[str, list[tuple[int, np.ndarray]]]:
    """train/ (numbered across the classes, b first), test/ and optionally val/; {split: [(label, pixels)]}."""
    rng = np.random.default_rng(9)
    out: dict[str, list] = {"train": [], "test": [], "val": []}
    for k in range(8):
        name = "ba"[k % 2]
        pixels = noise(rng, 10, 10)
        save(root / "train" / name / f"{k:03d}.png", pixels)
        out["train"].append(("ab".index(name), pixels))
    for split, start in (("test", 100), ("val", 200)) if val else (("test", 100),):
        for k in range(4):
            name = "ab"[k // 2]
            pixels = noise(rng, 10, 10)
            save(root / split / name / f"{start + k:03d}.png", pixels)
            out[split].append(("ab".index(name), pixels))
        out[split].sort(key=lambda item: item[0])  # a/100, a/101, b/102, b/103
    return out


@pytest.mark.parametrize("val", [False, True], ids=["train-test", "train-val-test"])
def test_split_folders_are_the_splits(tmp_path, val):
    expected = split_folder(tmp_path / "imgs", val=val)
    data = load_dataset(str(tmp_path / "imgs"), images=ImageOptions(resolution=10, test_split=0.5))
    assert data.train_y.tolist() == [1, 0, 1, 0, 1, 0, 1, 0]  # file order, whatever the class
    assert data.test_y.tolist() == [0, 0, 1, 1]
    for split in ("train", "test") + (("val",) if val else ()):
        x = getattr(data, f"{split}_x").numpy()
        assert np.array_equal(x, np.stack([chw(p) for _, p in expected[split]])), split
    if val:
        assert data.val_y.tolist() == [0, 0, 1, 1] and data.summary()["images"] == {"train": 8, "val": 4, "test": 4}
    else:
        assert data.val_x is None and data.summary()["images"] == {"train": 8, "test": 4}


def test_val_folder_alone_is_the_test_split(tmp_path):
    split_folder(tmp_path / "imgs", val=True)
    (tmp_path / "imgs" / "test").rename(tmp_path / "imgs" / "unused")
    data = load_dataset(str(tmp_path / "imgs"), images=ImageOptions(resolution=10))
    assert data.val_x is None and len(data.test_y) == 4 and len(data.train_y) == 8


def test_a_test_class_missing_from_train_is_an_error(tmp_path):
    split_folder(tmp_path / "imgs")
    save(tmp_path / "imgs" / "test" / "c" / "300.png", noise(np.random.default_rng(0), 10, 10))
    with pytest.raises(DataError) as e:
        load_dataset(str(tmp_path / "imgs"), images=ImageOptions(resolution=10))
    assert str(e.value) == (
        f"dataset: {tmp_path / 'imgs' / 'test'}/c: a class that {tmp_path / 'imgs' / 'train'} does not have"
    )


def test_a_test_folder_may_lack_some_classes(tmp_path):
    split_folder(tmp_path / "imgs")
    save(tmp_path / "imgs" / "train" / "c" / "050.png", noise(np.random.default_rng(0), 10, 10))
    data = load_dataset(str(tmp_path / "imgs"), images=ImageOptions(resolution=10))  # test/ has a and b only
    assert data.classes == ("a", "b", "c") and data.summary()["per_class"]["test"] == [2, 2, 0]


def test_a_test_folder_of_one_class_is_allowed(tmp_path):
    split_folder(tmp_path / "imgs")
    for image in (tmp_path / "imgs" / "test" / "b").iterdir():
        image.unlink()
    (tmp_path / "imgs" / "test" / "b").rmdir()
    data = load_dataset(str(tmp_path / "imgs"), images=ImageOptions(resolution=10))
    assert data.test_y.tolist() == [0, 0]


def test_train_without_test_is_an_error(tmp_path):
    split_folder(tmp_path / "imgs")
    (tmp_path / "imgs" / "test").rename(tmp_path / "imgs" / "holdout")
    with pytest.raises(DataError, match=r"has train/ but no test/ or val/ folder beside it"):
        read_source(tmp_path / "imgs")


def test_files_are_ordered_by_name_then_class(tmp_path):
    rng = np.random.default_rng(10)
    for relative in ("b/000.png", "a/sub/001.png", "b/001.png", "a/002.png", "c/002.png", "b/x/003.png"):
        save(tmp_path / "imgs" / relative, noise(rng, 8, 8))
    source = read_source(tmp_path / "imgs")
    assert source.files["train"] == [
        ("b/000.png", 1),
        ("a/sub/001.png", 0),
        ("b/001.png", 1),
        ("a/002.png", 0),
        ("c/002.png", 2),
        ("b/x/003.png", 1),
    ]
    assert source.unsplit and source.kind == "folder" and source.splits == ["train"]


# 4. the decode cache


def test_the_second_load_uses_the_cache(tmp_path, capsys, monkeypatch, cache):
    image_folder(tmp_path / "imgs", per_class=5)
    first = load_dataset(str(tmp_path / "imgs"), images=ImageOptions(resolution=10))
    said = capsys.readouterr()
    folder = Path(first.cache)
    assert "decoding 10 images at 10 px in 1 process(es), once" in said.out and str(folder) in said.out
    assert said.err == ""
    assert folder.parent == cache and sorted(p.name for p in folder.iterdir()) == ["meta.json", "x.npy", "y.npy"]
    assert folder.name == fingerprint(read_source(tmp_path / "imgs"), ImageOptions(resolution=10), 10)
    assert decoded_dirs(cache) == [folder]  # the temporary folder was renamed into place
    meta = json.loads((folder / "meta.json").read_text())
    assert meta["splits"] == {"train": 8, "test": 2} and meta["classes"] == ["a", "b"] and meta["channels"] == 3
    assert meta["images"] == 10 and meta["resolution"] == 10 and meta["source"] == str(tmp_path / "imgs")
    assert np.load(folder / "y.npy").tolist() == first.train_y.tolist() + first.test_y.tolist()

    def refuse(*args, **kwargs):
        raise AssertionError("decoded again")

    monkeypatch.setattr(own_data, "decode_files", refuse)
    monkeypatch.setattr("sweeps.decode.decode_files", refuse)
    second = load_dataset(str(tmp_path / "imgs"), images=ImageOptions(resolution=10))
    said = capsys.readouterr()
    assert "using the decoded cache" in said.out and "decoding" not in said.out and said.out.count("\n") == 1
    assert said.err == ""
    assert second.cache == first.cache
    for name in ("train_x", "train_y", "test_x", "test_y"):
        assert torch.equal(getattr(first, name), getattr(second, name)), name
    assert (second.mean, second.std, second.classes) == (first.mean, first.std, first.classes)


def test_another_resolution_is_another_cache(tmp_path, cache):
    image_folder(tmp_path / "imgs", per_class=5)
    at10 = load_dataset(str(tmp_path / "imgs"), images=ImageOptions(resolution=10))
    at8 = load_dataset(str(tmp_path / "imgs"), images=ImageOptions(resolution=8))
    assert (
        at10.cache != at8.cache
        and at8.resolution == 8
        and decoded_dirs(cache) == sorted([Path(at10.cache), Path(at8.cache)])
    )  # another option's cache is not stale


@pytest.mark.parametrize("change", ["touch", "add", "remove", "rewrite"])
def test_a_changed_folder_is_decoded_afresh_and_the_stale_cache_removed(tmp_path, capsys, cache, change):
    files = image_folder(tmp_path / "imgs", per_class=5)
    root = tmp_path / "imgs"
    old = load_dataset(str(root), images=ImageOptions(resolution=10))
    capsys.readouterr()
    first = root / next(iter(files))
    if change == "touch":
        stat = first.stat()
        os.utime(first, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    elif change == "add":
        save(root / "b" / "100.png", noise(np.random.default_rng(11), 10, 10))
    elif change == "remove":
        first.unlink()
    else:  # same name and time, other size
        stat = first.stat()
        save(first, noise(np.random.default_rng(12), 12, 12))
        os.utime(first, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    new = load_dataset(str(root), images=ImageOptions(resolution=10))
    assert "decoding" in capsys.readouterr().out
    assert new.cache != old.cache and not Path(old.cache).exists()
    assert decoded_dirs(cache) == [Path(new.cache)]
    counts = {"touch": 10, "add": 11, "remove": 9, "rewrite": 10}[change]
    assert len(new.train_y) + len(new.test_y) == counts
    assert new.provenance["fingerprint"] != old.provenance["fingerprint"]


def test_the_cache_is_memory_mapped(tmp_path):
    image_folder(tmp_path / "imgs", per_class=5)
    data = load_dataset(str(tmp_path / "imgs"), images=ImageOptions(resolution=10))
    x_file = Path(data.cache) / "x.npy"
    stored = np.load(x_file, mmap_mode="r")
    assert isinstance(stored, np.memmap) and stored.shape == (10, 3, 10, 10) and stored.dtype == np.uint8
    assert np.array_equal(stored, torch.cat([data.train_x, data.test_x]).numpy())
    if Path("/proc/self/maps").is_file():
        assert mapped_from(data.train_x, x_file) and mapped_from(data.test_x, x_file)
    again = open_cache(data.cache)
    for name in ("train_x", "train_y", "test_x", "test_y"):
        assert torch.equal(getattr(again, name), getattr(data, name)), name
    assert (again.classes, again.mean, again.std, again.cache) == (data.classes, data.mean, data.std, data.cache)
    assert again.provenance == data.provenance and data.provenance["kind"] == "folder"


def test_datasets_pickle_and_ship_by_their_cache(tmp_path):
    image_folder(tmp_path / "imgs", per_class=5)
    data = load_dataset(str(tmp_path / "imgs"), images=ImageOptions(resolution=10))
    copy = pickle.loads(pickle.dumps(data))
    for name in ("train_x", "train_y", "test_x", "test_y"):
        assert torch.equal(getattr(copy, name), getattr(data, name)), name
        assert isinstance(getattr(copy, name), torch.Tensor)
    assert copy.val_x is None and (copy.cache, copy.classes, copy.provenance) == (
        data.cache,
        data.classes,
        data.provenance,
    )
    shipped = data.shared(True)
    assert shipped == CachedDataset(data.cache)
    opened_data = pickle.loads(pickle.dumps(shipped)).open()
    assert torch.equal(opened_data.train_x, data.train_x) and torch.equal(opened_data.test_y, data.test_y)
    assert torch.equal(opened(shipped).test_x, data.test_x)
    assert data.shared(False) is data and opened(data) is data
    carved = data.with_val_split(0.25)
    assert carved.cache is None and carved.shared(True) is carved
    assert (len(carved.train_y), len(carved.val_y)) == (6, 2)


def test_a_failed_strict_decode_leaves_no_cache(tmp_path, cache):
    image_folder(tmp_path / "imgs", per_class=3)
    (tmp_path / "imgs" / "a" / "900.png").write_bytes(b"not a png")
    with pytest.raises(DataError, match="900.png"):
        load_dataset(str(tmp_path / "imgs"), images=ImageOptions(resolution=10, strict=True))
    assert decoded_dirs(cache) == []  # nor its temporary folder


# 5. arrays


def write_arrays(path: Path, **arrays) -> Path:
    if path.suffix == ".npz":
        np.savez(path, **arrays)
    else:
        path.mkdir(parents=True, exist_ok=True)
        for name, a in arrays.items():
            np.save(path / f"{name}.npy", a)
    return path


@pytest.mark.parametrize(
    "layout, shape",
    [("NHW", (30, 12, 12)), ("NHWC", (30, 12, 12, 3)), ("NCHW", (30, 3, 12, 12)), ("NHWC1", (30, 12, 12, 1))],
)
@pytest.mark.parametrize("where", ["file.npz", "folder"])
def test_unsplit_arrays_keep_their_pixels(tmp_path, layout, shape, where, capsys):
    rng = np.random.default_rng(13)
    x, y = rng.integers(0, 256, shape, dtype=np.uint8), np.arange(30) % 3
    path = write_arrays(tmp_path / where, x=x, y=y)
    nchw = {"NHW": x[:, None], "NCHW": x}.get(layout, x.transpose(0, 3, 1, 2) if x.ndim == 4 else None)
    data = load_dataset(str(path))
    assert "converting 30 images at 12 px" in capsys.readouterr().out
    assert data.classes == ("0", "1", "2") and data.resolution == 12 and data.in_channels == nchw.shape[1]
    rows = split_rows(read_source(path), ImageOptions())
    assert rows["train"][0] == rows["test"][0] == "train"
    assert np.array_equal(data.train_x.numpy(), nchw[rows["train"][1]])
    assert np.array_equal(data.test_x.numpy(), nchw[rows["test"][1]])
    assert data.train_y.tolist() == y[rows["train"][1]].tolist() and data.test_y.tolist() == y[rows["test"][1]].tolist()
    assert sorted(data.test_y.tolist()) == [0, 0, 1, 1, 2, 2] and len(data.train_y) == 24
    together = np.concatenate([data.train_x.numpy(), data.test_x.numpy()])
    assert sorted(map(bytes, together)) == sorted(map(bytes, nchw))  # every image once, unchanged
    assert data.summary()["kind"] == "arrays"


@pytest.mark.parametrize("names", ["train_x", "x_train"], ids=["ours", "keras"])
def test_split_arrays_are_the_splits(tmp_path, names):
    rng = np.random.default_rng(14)
    train_x, test_x = rng.integers(0, 256, (20, 10, 10, 3), dtype=np.uint8), rng.integers(0, 256, (6, 10, 10, 3))
    test_x = test_x.astype(np.uint8)
    train_y, test_y = np.arange(20) % 2, np.array([1, 0, 1, 0, 1, 1], dtype=np.uint8)
    arrays = {"train_x": train_x, "train_y": train_y, "test_x": test_x, "test_y": test_y}
    if names == "x_train":
        arrays = {f"{k[-1]}_{k[:-2]}": v for k, v in arrays.items()}
    data = load_dataset(str(write_arrays(tmp_path / "set.npz", **arrays, classes=np.array(["cat", "dog"]))))
    assert data.classes == ("cat", "dog") and data.num_classes == 2
    assert np.array_equal(data.train_x.numpy(), train_x.transpose(0, 3, 1, 2))
    assert np.array_equal(data.test_x.numpy(), test_x.transpose(0, 3, 1, 2))
    assert data.train_y.tolist() == train_y.tolist() and data.test_y.tolist() == test_y.tolist()
    assert data.test_y.dtype == torch.int64


def test_val_arrays_are_the_validation_split(tmp_path):
    rng = np.random.default_rng(15)
    x = {s: rng.integers(0, 256, (n, 1, 8, 8), dtype=np.uint8) for s, n in (("train", 12), ("val", 4), ("test", 6))}
    y = {"train": np.arange(12) % 2, "val": np.array([0, 1, 1, 0]), "test": np.arange(6) % 2}
    path = write_arrays(tmp_path / "arrays", **{f"{s}_x": x[s] for s in x}, **{f"{s}_y": y[s] for s in y})
    data = load_dataset(str(path))
    for s in ("train", "val", "test"):
        assert np.array_equal(getattr(data, f"{s}_x").numpy(), x[s]) and getattr(data, f"{s}_y").tolist() == list(y[s])


def test_arrays_resize_to_a_given_resolution(tmp_path):
    rng = np.random.default_rng(16)
    x, y = rng.integers(0, 256, (10, 20, 12), dtype=np.uint8), np.arange(10) % 2
    data = load_dataset(str(write_arrays(tmp_path / "a.npz", x=x, y=y)))  # own size: the shorter side
    assert data.resolution == 12
    rows = split_rows(read_source(tmp_path / "a.npz"), ImageOptions())
    assert np.array_equal(data.train_x.numpy()[:, 0], x[rows["train"][1], 4:16])  # centre crop only
    data = load_dataset(str(tmp_path / "a.npz"), images=ImageOptions(resolution=6))
    expected = np.asarray(fit(Image.fromarray(x[rows["test"][1][0]]), 6, True))
    assert data.resolution == 6 and np.array_equal(data.test_x.numpy()[0, 0], expected)


def test_arrays_labels_need_not_be_int64(tmp_path):
    rng = np.random.default_rng(17)
    x, y = rng.integers(0, 256, (10, 8, 8), dtype=np.uint8), (np.arange(10) % 2).astype(np.uint8)
    data = load_dataset(str(write_arrays(tmp_path / "a.npz", x=x, y=y)))
    assert data.train_y.dtype == torch.int64 and sorted(data.test_y.tolist()) == [0, 1]


# 6. bad input


def bad_arrays(tmp_path: Path, case: str) -> tuple[Path, str]:
    """(path, the message's tail) of one broken array set."""
    rng = np.random.default_rng(18)
    x, y = rng.integers(0, 256, (10, 8, 8), dtype=np.uint8), np.arange(10) % 2
    p = tmp_path / f"{case}.npz"
    if case == "negative":
        return write_arrays(p, x=x, y=y - 1), "y holds labels -1..0, outside"
    if case == "beyond-classes":
        return write_arrays(p, x=x, y=y * 2, classes=np.array(["a", "b"])), "y holds labels 0..2, outside the 2 names"
    if case == "test-beyond":
        arrays = {"train_x": x, "train_y": y, "test_x": x[:3], "test_y": np.array([0, 1, 5])}
        return write_arrays(p, **arrays), "test_y holds labels 0..5, outside the training labels' 0..1"
    if case == "length":
        return write_arrays(p, x=x, y=y[:9]), "x has 10 images but y has 9 labels"
    if case == "float":
        return write_arrays(p, x=x / 255, y=y), "x must be uint8 pixels 0..255, got float64"
    if case == "no-training-images":
        return write_arrays(p, x=x, y=y * 2), "class 1 has no training images"
    if case == "one-class":
        return write_arrays(p, x=x, y=y * 0), "only one class in the labels"
    if case == "no-y":
        return write_arrays(p, x=x), "arrays x and y (or train_x, train_y, test_x, test_y) expected; found x"
    if case == "2d-labels":
        return write_arrays(p, x=x, y=y[:, None]), "y must be a 1-D integer array"
    if case == "shape":
        return write_arrays(p, x=x[:, :, :, None, None], y=y), "x has shape (10, 8, 8, 1, 1)"
    if case == "npy-file":
        np.save(tmp_path / "x.npy", x)
        return tmp_path / "x.npy", "not an .npz file"
    if case == "not-npz":
        p.write_bytes(b"garbage")
        return p, "not a readable .npz file"
    raise AssertionError(case)


ARRAY_CASES = [
    "negative",
    "beyond-classes",
    "test-beyond",
    "length",
    "float",
    "no-training-images",
    "one-class",
    "no-y",
    "2d-labels",
    "shape",
    "npy-file",
    "not-npz",
]


@pytest.mark.parametrize("case", ARRAY_CASES)
def test_bad_arrays_are_named(tmp_path, case):
    path, message = bad_arrays(tmp_path, case)
    with pytest.raises(DataError) as e:
        load_dataset(str(path))
    assert str(e.value).startswith(f"dataset: {path}: ") and message in str(e.value)
    assert "\n" not in str(e.value)


def bad_folder(tmp_path: Path, case: str) -> tuple[Path, str]:
    root = tmp_path / "imgs"
    if case == "missing":
        return root, f"dataset: {root}: no such file or folder"
    if case == "no-classes":
        save(root / "loose.png", noise(np.random.default_rng(0), 8, 8))
        return root, f"dataset: {root}: no class sub-folders"
    if case == "empty-class":
        image_folder(root, per_class=2)
        (root / "c").mkdir()
        (root / "c" / "readme.txt").write_text("no images here")
        return root, f"dataset: {root / 'c'}: an empty class"
    if case == "one-class":
        image_folder(root, classes=("only",), per_class=3)
        return root, f"dataset: {root}: only one class (only)"
    raise AssertionError(case)


@pytest.mark.parametrize("case", ["missing", "no-classes", "empty-class", "one-class"])
def test_bad_folders_are_named(tmp_path, case):
    path, message = bad_folder(tmp_path, case)
    with pytest.raises(DataError) as e:
        load_dataset(str(path), images=ImageOptions(resolution=8))
    assert str(e.value).startswith(message)


@pytest.mark.parametrize("case", ["missing", "no-classes", "empty-class", "one-class"])
def test_bad_folders_are_one_line_on_the_command_line(tmp_path, capsys, case):
    path, message = bad_folder(tmp_path, case)
    code, out, err = run_cli(capsys, "train", "ResNet-20", "--dataset", str(path), "--resolution", "8")
    assert code == 1 and out == ""
    assert err.startswith(f"anynet train: error: {message}") and err.count("\n") == 1


@pytest.mark.parametrize("case", ["negative", "float", "length", "npy-file", "no-training-images"])
def test_bad_arrays_are_one_line_on_the_command_line(tmp_path, capsys, case):
    path, message = bad_arrays(tmp_path, case)
    code, out, err = run_cli(capsys, "train", "ResNet-20", "--dataset", str(path))
    assert code == 1 and out == "" and err.count("\n") == 1
    assert err.startswith(f"anynet train: error: dataset: {path}: ") and message in err


def broken_images(root: Path) -> list[str]:
    """A folder of good images with a truncated PNG, a truncated JPEG and a file that is no image; their names."""
    image_folder(root, per_class=5)
    rng = np.random.default_rng(19)
    for name, kwargs in (("a/500.png", {}), ("b/501.jpg", {"quality": 90})):
        path = save(root / name, noise(rng, 24, 24), **kwargs)
        data = path.read_bytes()
        path.write_bytes(data[: len(data) // 2])
    (root / "a" / "502.png").write_bytes(b"plain text, not a png")
    return ["a/500.png", "b/501.jpg", "a/502.png"]


def test_unreadable_images_are_skipped_and_named(tmp_path, capsys):
    bad = broken_images(tmp_path / "imgs")
    data = load_dataset(str(tmp_path / "imgs"), images=ImageOptions(resolution=10))
    assert len(data.train_y) + len(data.test_y) == 10
    assert data.provenance["skipped"] == 3 and sorted(m.split(":")[0] for m in data.provenance["skipped_first"]) == (
        sorted(bad)
    )
    err = capsys.readouterr().err
    skipped = [line for line in err.splitlines() if "skipped" in line]
    assert len(skipped) == 1 and "skipped 3 unreadable image(s) (" in skipped[0]
    assert all(name in skipped[0] for name in bad) and ", ...)" not in skipped[0]
    assert "truncated" in skipped[0].lower()
    load_dataset(str(tmp_path / "imgs"), images=ImageOptions(resolution=10))  # from the cache: said again
    assert "skipped 3 unreadable image(s)" in capsys.readouterr().err


def test_more_unreadable_images_than_are_named(tmp_path, capsys):
    image_folder(tmp_path / "imgs", per_class=5)
    for k in range(5):
        (tmp_path / "imgs" / "b" / f"90{k}.png").write_bytes(b"junk")
    data = load_dataset(str(tmp_path / "imgs"), images=ImageOptions(resolution=10))
    assert data.provenance["skipped"] == 5 and len(data.provenance["skipped_first"]) == 3
    assert "skipped 5 unreadable image(s) (" in capsys.readouterr().err.replace(", ...)", "")


@pytest.mark.parametrize("cached", [False, True], ids=["fresh", "cached"])
def test_strict_stops_at_unreadable_images(tmp_path, capsys, cached):
    bad = broken_images(tmp_path / "imgs")
    if cached:
        load_dataset(str(tmp_path / "imgs"), images=ImageOptions(resolution=10))
    with pytest.raises(DataError) as e:
        load_dataset(str(tmp_path / "imgs"), images=ImageOptions(resolution=10, strict=True))
    text = str(e.value)
    assert text.startswith("dataset: 3 unreadable image(s)") and all(name in text for name in bad)
    assert "--strict stops at them" in text and "\n" not in text


def test_strict_on_the_command_line(tmp_path, capsys):
    bad = broken_images(tmp_path / "imgs")
    argv = ["train", "ResNet-20", "--dataset", str(tmp_path / "imgs"), "--resolution", "10", "--strict", "--json"]
    code, out, err = run_cli(capsys, *argv)
    assert code == 1 and out == "" and err.count("\n") == 1 and err.startswith("anynet train: error: dataset: ")
    assert "3 unreadable image(s)" in err and all(name in err for name in bad)


def test_no_resize_below_the_resolution_is_an_error(tmp_path, capsys):
    image_folder(tmp_path / "imgs", per_class=3, size=10)
    with pytest.raises(DataError) as e:
        load_dataset(str(tmp_path / "imgs"), images=ImageOptions(resolution=16, resize=False))
    assert str(e.value).startswith("resolution: 16 px is larger than ") and "give --resolution 10 or less" in str(
        e.value
    )
    capsys.readouterr()
    code, out, err = run_cli(
        capsys, "train", "ResNet-20", "--dataset", str(tmp_path / "imgs"), "--resolution", "16", "--no-resize", "--json"
    )
    assert code == 1 and out == "" and err.count("\n") == 1
    assert err.startswith("anynet train: error: resolution: 16 px is larger than")


def test_no_resize_arrays_below_the_resolution_is_an_error(tmp_path):
    rng = np.random.default_rng(20)
    path = write_arrays(tmp_path / "a.npz", x=rng.integers(0, 256, (10, 8, 8), dtype=np.uint8), y=np.arange(10) % 2)
    with pytest.raises(DataError, match=r"^resolution: 12 px is larger than .*give --resolution 8 or less"):
        load_dataset(str(path), images=ImageOptions(resolution=12, resize=False))
    data = load_dataset(str(path), images=ImageOptions(resolution=12))  # resizing allowed: enlarged
    assert data.resolution == 12


def test_arrays_with_other_channels_per_split_are_a_data_error(tmp_path):
    rng = np.random.default_rng(21)
    arrays = {
        "train_x": rng.integers(0, 256, (10, 8, 8, 1), dtype=np.uint8),
        "train_y": np.arange(10) % 2,
        "test_x": rng.integers(0, 256, (4, 8, 8, 3), dtype=np.uint8),
        "test_y": np.arange(4) % 2,
    }
    with pytest.raises(DataError, match="test_x"):
        load_dataset(str(write_arrays(tmp_path / "a.npz", **arrays)))


def test_a_folder_of_unreadable_test_images_is_an_error(tmp_path):
    split_folder(tmp_path / "imgs")
    for image in (tmp_path / "imgs" / "test").rglob("*.png"):
        image.write_bytes(b"junk")
    with pytest.raises(DataError, match="no readable test images"):
        load_dataset(str(tmp_path / "imgs"), images=ImageOptions(resolution=10))


@pytest.mark.parametrize(
    "images, message",
    [
        ({"colour": "red"}, "images.colour: unknown field; allowed fields: resolution, resize, test_split"),
        ({"test_split": 1.0}, "images.test_split: must be a number between 0 and 1 (exclusive), got 1.0"),
        ({"test_split": 0}, "images.test_split: must be a number between 0 and 1 (exclusive), got 0"),
        ({"test_split": True}, "images.test_split: must be a number between 0 and 1"),
        ({"resize": "no"}, "images.resize: must be true or false, got 'no'"),
        ({"resolution": 0}, "images.resolution: must be an integer >= 1, got 0"),
        ({"per_class": 2.5}, "images.per_class: must be an integer >= 1, got 2.5"),
        ([1, 2], "images: must be a mapping of resolution, resize, test_split, per_class, strict"),
    ],
)
def test_bad_images_options_in_a_sweep_file_are_named(tmp_path, images, message):
    data = {"name": "t", "space": "AnyNetX_A-small", "n": 2, "dataset": "./imgs", "images": images}
    with pytest.raises(SweepError) as e:
        sweep_from_dict(data, base=tmp_path)
    assert str(e.value).startswith(message)


@pytest.mark.parametrize("flags", [["--test-split", "0"], ["--test-split", "1.5"], ["--per-class", "0"]])
def test_bad_image_flags_are_one_line(tmp_path, capsys, flags):
    image_folder(tmp_path / "imgs", per_class=2)
    code, out, err = run_cli(capsys, "train", "ResNet-20", "--dataset", str(tmp_path / "imgs"), *flags)
    assert code == 1 and out == "" and err.count("\n") == 1
    assert err.startswith(f"anynet train: error: {flags[0]}: must be")


def test_a_bad_flag_is_named_as_typed(tmp_path, capsys):
    image_folder(tmp_path / "imgs", per_class=2)
    _, _, err = run_cli(capsys, "train", "ResNet-20", "--dataset", str(tmp_path / "imgs"), "--test-split", "1.5")
    assert err.startswith("anynet train: error: --test-split: must be")


@pytest.mark.parametrize("options", [{"test_split": 1.5}, {"test_split": 1.0}, {"test_split": -0.2}, {"per_class": -1}])
def test_out_of_range_options_are_a_data_error(tmp_path, options):
    rng = np.random.default_rng(22)
    path = write_arrays(tmp_path / "a.npz", x=rng.integers(0, 256, (20, 8, 8), dtype=np.uint8), y=np.arange(20) % 2)
    with pytest.raises(DataError):
        load_dataset(str(path), images=ImageOptions(**options))


def test_a_split_holding_nothing_out_is_an_error(tmp_path):
    image_folder(tmp_path / "imgs", per_class=2)  # 1 per class: nothing can be held out
    with pytest.raises(DataError, match=r"^test_split: 0.2 of 4 images holds none out for testing"):
        load_dataset(str(tmp_path / "imgs"), images=ImageOptions(resolution=10))


def test_a_folder_needs_a_resolution(tmp_path):
    image_folder(tmp_path / "imgs", per_class=2)
    with pytest.raises(DataError, match=r"^resolution: give the resolution"):
        load_dataset(str(tmp_path / "imgs"))
    assert load_dataset(str(tmp_path / "imgs"), fallback=6, images=ImageOptions(test_split=0.5)).resolution == 6


# 7. per_class


def test_per_class_caps_the_training_images(tmp_path):
    image_folder(tmp_path / "imgs", classes=("a", "b", "c"), per_class=10)
    full = load_dataset(str(tmp_path / "imgs"), images=ImageOptions(resolution=10))
    capped = load_dataset(str(tmp_path / "imgs"), images=ImageOptions(resolution=10, per_class=3))
    assert capped.cache != full.cache
    assert capped.summary()["per_class"] == {"train": [3, 3, 3], "test": [2, 2, 2]}
    assert torch.equal(capped.test_x, full.test_x) and torch.equal(capped.test_y, full.test_y)
    kept = identify(capped.train_x, list(full.train_x.numpy()))
    assert kept == sorted(kept) and len(set(kept)) == 9  # a subset of the training images, in their order
    assert capped.train_y.tolist() == [full.train_y[k].item() for k in kept]
    assert load_dataset(str(tmp_path / "imgs"), images=ImageOptions(resolution=10, per_class=50)).summary()[
        "per_class"
    ]["train"] == [8, 8, 8]


def test_per_class_with_split_arrays(tmp_path):
    rng = np.random.default_rng(23)
    arrays = {
        "train_x": rng.integers(0, 256, (30, 8, 8), dtype=np.uint8),
        "train_y": np.arange(30) % 3,
        "test_x": rng.integers(0, 256, (5, 8, 8), dtype=np.uint8),
        "test_y": np.array([0, 1, 2, 2, 1]),
    }
    data = load_dataset(str(write_arrays(tmp_path / "a.npz", **arrays)), images=ImageOptions(per_class=4))
    assert data.summary()["per_class"]["train"] == [4, 4, 4] and data.test_y.tolist() == [0, 1, 2, 2, 1]
    assert np.array_equal(data.test_x.numpy()[:, 0], arrays["test_x"])


# 8. the sweep file


def test_a_sweep_files_dataset_path_is_relative_to_it(tmp_path, monkeypatch):
    (tmp_path / "sweeps").mkdir()
    (tmp_path / "sweeps" / "s.yaml").write_text(
        yaml.safe_dump({"name": "t", "space": "AnyNetX_A-small", "n": 2, "dataset": "../data/imgs"})
    )
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)  # not where relative paths are resolved from
    config = load_sweep(tmp_path / "sweeps" / "s.yaml")
    assert config.dataset == str(tmp_path / "data" / "imgs") and config.own_data
    config = sweep_from_dict({"name": "t", "space": "AnyNetX_A-small", "n": 2, "dataset": "d.npz"}, base=tmp_path)
    assert config.dataset == str(tmp_path / "d.npz")
    absolute = str(tmp_path / "x" / "imgs")
    assert sweep_from_dict({"name": "t", "space": "AnyNetX_A-small", "n": 2, "dataset": absolute}).dataset == absolute


def test_identity_has_images_only_for_a_path(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    base = {"name": "t", "space": "AnyNetX_A-small", "n": 2}
    own = sweep_from_dict({**base, "dataset": "./imgs", "images": {"resolution": 16, "per_class": 5}}, base=tmp_path)
    assert own.images == ImageOptions(resolution=16, per_class=5)
    assert own.identity()["images"] == {"resolution": 16, "resize": True, "test_split": 0.2, "per_class": 5}
    assert own.identity()["dataset"] == str(tmp_path / "imgs")
    plain = sweep_from_dict({**base, "dataset": "fashion-mnist"}, base=tmp_path)
    assert "images" not in plain.identity() and not plain.own_data
    assert list(plain.identity()) == ["space", "seed", "flops", "params", "acts", "dataset", "val_split", "recipe"]
    assert plain.to_dict()["images"] == ImageOptions().to_dict()  # recorded, but no part of the identity


def test_a_bare_folder_name_beside_the_sweep_file_is_a_path(tmp_path, monkeypatch):
    image_folder(tmp_path / "sweeps" / "imgs", per_class=2)
    (tmp_path / "sweeps" / "s.yaml").write_text(
        yaml.safe_dump({"name": "t", "space": "AnyNetX_A-small", "n": 2, "dataset": "imgs"})
    )
    monkeypatch.chdir(tmp_path)
    assert load_sweep(tmp_path / "sweeps" / "s.yaml").dataset == str(tmp_path / "sweeps" / "imgs")


def test_is_path():
    assert is_path("./imgs") and is_path("a/b") and is_path("data.npz") and is_path("x.npy")
    assert not is_path("fashion-mnist") and not is_path("cifar10")


def write_idx_mnist(folder: Path) -> None:
    rng = np.random.default_rng(24)
    folder.mkdir(parents=True)
    stems = {
        "train-images-idx3-ubyte": rng.integers(0, 256, (20, 28, 28)),
        "train-labels-idx1-ubyte": rng.integers(0, 10, 20),
        "t10k-images-idx3-ubyte": rng.integers(0, 256, (10, 28, 28)),
        "t10k-labels-idx1-ubyte": rng.integers(0, 10, 10),
    }
    for stem, a in stems.items():
        header = bytes([0, 0, 0x08, a.ndim]) + b"".join(int(n).to_bytes(4, "big") for n in a.shape)
        (folder / stem).write_bytes(header + a.astype(np.uint8).tobytes())


def test_a_builtin_name_is_not_shadowed_by_a_folder_in_the_working_directory(tmp_path, monkeypatch):
    write_idx_mnist(tmp_path / "mnist")
    monkeypatch.chdir(tmp_path)
    data = load_dataset("mnist", tmp_path)
    assert data.name == "mnist" and len(data.train_y) == 20


def test_a_builtin_name_keeps_its_identity_whatever_the_working_directory(tmp_path, monkeypatch):
    (tmp_path / "fashion-mnist").mkdir()
    monkeypatch.chdir(tmp_path)
    config = sweep_from_dict({"name": "t", "space": "AnyNetX_A-small", "n": 2}, base=tmp_path)
    assert config.dataset == "fashion-mnist" and "images" not in config.identity()


# 9. a sweep folder's record of its data


def sweep_config(tmp_path: Path, **overrides) -> object:
    return sweep_from_dict(
        {
            "name": "t",
            "space": "AnyNetX_A-small",
            "n": 2,
            "dataset": "./imgs",
            "images": {"resolution": 8},
            "overrides": overrides,
            "out_dir": str(tmp_path / "run"),
        },
        base=tmp_path,
    )


def test_check_data_records_the_data_and_refuses_a_change(tmp_path):
    image_folder(tmp_path / "imgs", per_class=5)
    config = sweep_config(tmp_path, in_channels=3, num_classes=2)
    data = sweep_data(config)
    assert data.resolution == 8 and data.source == str(tmp_path / "imgs")
    folder = SweepFolder(config.out_dir)
    check_data(config, folder, data)
    record = yaml.safe_load((tmp_path / "run" / "data.yaml").read_text())
    assert record["classes"] == ["a", "b"] and record["images"] == {"train": 8, "test": 2}
    assert record["fingerprint"] == data.provenance["fingerprint"] == read_source(tmp_path / "imgs").fingerprint
    assert (record["channels"], record["resolution"], record["kind"]) == (3, 8, "folder")
    assert record["per_class"] == {"train": [4, 4], "test": [1, 1]} and record["source"] == str(tmp_path / "imgs")
    check_data(config, folder, sweep_data(config))  # the same data again: fine
    save(tmp_path / "imgs" / "a" / "100.png", noise(np.random.default_rng(25), 10, 10))
    changed = sweep_data(config)
    with pytest.raises(SweepError) as e:
        check_data(config, folder, changed)
    assert str(e.value).startswith(f"dataset: {tmp_path / 'imgs'} has changed since {tmp_path / 'run'} began")
    assert "(10 images then, 11 now)" in str(e.value)
    assert yaml.safe_load((tmp_path / "run" / "data.yaml").read_text()) == record  # not overwritten


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"num_classes": 2}, "space.in_channels: the space's models take 1, imgs has 3"),
        ({"in_channels": 3}, "space.num_classes: the space's models take 10, imgs has 2"),
    ],
)
def test_check_data_refuses_a_space_that_cannot_take_the_data(tmp_path, overrides, message):
    image_folder(tmp_path / "imgs", per_class=5)
    config = sweep_config(tmp_path, **overrides)
    with pytest.raises(SweepError) as e:
        check_data(config, SweepFolder(config.out_dir), sweep_data(config))
    assert str(e.value).startswith(message) and "overrides" in str(e.value)
    assert not (tmp_path / "run" / "data.yaml").exists()


def test_sweep_data_decodes_a_folder_at_the_spaces_resolution(tmp_path):
    image_folder(tmp_path / "imgs", per_class=5)
    config = sweep_from_dict(
        {"name": "t", "space": "AnyNetX_A-small", "n": 2, "dataset": "./imgs", "val_split": 0.25}, base=tmp_path
    )
    data = sweep_data(config)
    assert data.resolution == config.space.resolution == 28
    assert (len(data.train_y), len(data.val_y), len(data.test_y)) == (6, 2, 2) and data.cache is None


# the decode cache key and the moments, directly


def test_fingerprint_keys_on_the_files_and_the_options(tmp_path):
    image_folder(tmp_path / "imgs", per_class=3)
    source = read_source(tmp_path / "imgs")
    key = fingerprint(source, ImageOptions(), 10)
    assert len(key) == 20 and key == fingerprint(read_source(tmp_path / "imgs"), ImageOptions(), 10)
    others = {
        fingerprint(source, ImageOptions(), 12),
        fingerprint(source, ImageOptions(resize=False), 10),
        fingerprint(source, ImageOptions(test_split=0.3), 10),
        fingerprint(source, ImageOptions(per_class=2), 10),
    }
    assert key not in others and len(others) == 4
    assert fingerprint(source, ImageOptions(strict=True), 10) == key  # strict decides no pixel


def test_moments_are_exact():
    rng = np.random.default_rng(26)
    x = rng.integers(0, 256, (7, 2, 5, 5), dtype=np.uint8)
    mean, std = moments(x)
    pixels = x.astype(np.float64) / 255
    assert mean == pytest.approx(pixels.mean(axis=(0, 2, 3)).tolist(), abs=1e-12)
    assert std == pytest.approx(pixels.std(axis=(0, 2, 3)).tolist(), abs=1e-12)


# one short training run on a decoded folder, through the command line


def test_train_on_an_image_folder(tmp_path, capsys):
    image_folder(tmp_path / "imgs", per_class=20, size=12)
    argv = ["train", "ResNet-20", "--dataset", str(tmp_path / "imgs"), "--resolution", "8", "--images", "32"]
    code, out, err = run_cli(capsys, *argv, "--batch-size", "16", "--threads", "1", "--json")
    assert code == 0, err
    result = json.loads(out)
    assert result["dataset"] == "imgs" and result["status"] == "ok"
    assert (result["spec"]["in_channels"], result["spec"]["num_classes"], result["spec"]["resolution"]) == (3, 2, 8)
    assert err == ""  # --json: the result alone on stdout, nothing said while decoding


# decoding in worker processes (a large set's way) gives what decoding in this process gives


def test_worker_processes_decode_the_same_dataset(tmp_path, monkeypatch):
    image_folder(tmp_path / "imgs", per_class=20, size=12)
    (tmp_path / "imgs" / "a" / "999.png").write_bytes(b"junk")
    rng = np.random.default_rng(27)
    path = write_arrays(
        tmp_path / "a.npz", x=rng.integers(0, 256, (40, 12, 12, 3), dtype=np.uint8), y=np.arange(40) % 2
    )
    options = ImageOptions(resolution=8)
    serial = [load_dataset(str(tmp_path / "imgs"), images=options), load_dataset(str(path), images=options)]
    monkeypatch.setenv("ANYNET_CACHE", str(tmp_path / "parallel"))
    monkeypatch.setattr("sweeps.decode.workers", lambda n=None: 2)  # 3 chunks of 16 in 2 spawned processes
    pools = []

    def pool(*args, **kwargs):
        pools.append(kwargs["mp_context"].get_start_method())
        return ProcessPoolExecutor(*args, **kwargs)

    monkeypatch.setattr("sweeps.decode.ProcessPoolExecutor", pool)
    parallel = [load_dataset(str(tmp_path / "imgs"), images=options), load_dataset(str(path), images=options)]
    for one, other in zip(serial, parallel):
        assert one.cache != other.cache and one.provenance == other.provenance
        for name in ("train_x", "train_y", "test_x", "test_y"):
            assert torch.equal(getattr(one, name), getattr(other, name)), name
    assert parallel[0].provenance["skipped_first"] == ["a/999.png: cannot identify image file"]
    assert pools == ["spawn"] * 3  # the folder once, the arrays once per split
