"""Your own images, measured: Fashion-MNIST written out as an ImageFolder of PNGs, decoded once, shared by trials.

Steps (all by default; --steps picks some):
  write    the 70,000 images as DIR/train/<k-name>/<index>.png and DIR/test/..., class folders named so that
           their sorted order is the built-in label order, file names numbered so that their order is the built-in
           image order (the same pixels, classes and order: a study on the folder trains exactly as on the set)
  decode   a fresh cache: the first load's decode time and images/s (in worker processes on every core); 1,000,
           2,000 and 8,000 of the images decoded in this process alone and in worker processes (the ratio is the
           parallel speed-up, the workers' start included: where it passes 1 sets decode.SERIAL_BELOW); the
           pixels, labels and mean/std checked equal to the built-in set's
  start    the second load from the cache in a fresh process against loading the built-in set (gzipped idx
           files) in a fresh process: seconds from start to data in hand
  memory   a 4-trial sweep (Ray given 4 CPUs) on the folder decoded at --memory-resolution px, sampling every
           trial process's memory while it trains: its resident set, its private part, and the resident and
           proportional size of the dataset's pages in it, against the dataset's size; with the dataset
           memory-mapped from its cache (one machine), shipped through Ray's object store as numpy (as to a
           cluster), and as torch tensors (as every dataset was before: each trial unpickles its own copy)
  compare  two study folders (e.g. the main job on fashion-mnist and on the PNG folder): each model's error side
           by side, the largest difference

Run: python benchmarks/own_images.py --dir /tmp/fmnist-png [--steps write,decode,start,memory]
     python benchmarks/own_images.py --steps compare --studies runs/study runs/study-png
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import fields
from pathlib import Path

import numpy as np

NAMES = ("t-shirt", "trouser", "pullover", "dress", "coat", "sandal", "shirt", "sneaker", "bag", "ankle-boot")
LOAD = "import sys, time; from sweeps.data import load_dataset; t = time.perf_counter(); "
LOAD += "d = load_dataset(sys.argv[1], fallback=28, quiet=True); print(len(d.train_y), time.perf_counter() - t)"


def write(folder: Path) -> None:
    """Fashion-MNIST as PNGs in folder/train and folder/test, one sub-folder per class."""
    from PIL import Image

    from sweeps import load_dataset

    data = load_dataset("fashion-mnist")
    started = time.perf_counter()
    for split in ("train", "test"):
        x, y = getattr(data, f"{split}_x").numpy(), getattr(data, f"{split}_y").numpy()
        for k, name in enumerate(NAMES):
            (folder / split / f"{k}-{name}").mkdir(parents=True, exist_ok=True)
        for i in range(len(y)):
            Image.fromarray(x[i, 0]).save(folder / split / f"{y[i]}-{NAMES[y[i]]}" / f"{i:05d}.png")
    count = sum(1 for _ in folder.rglob("*.png"))
    print(f"write: {count:,} PNGs in {folder} in {time.perf_counter() - started:.1f} s")


def decode(folder: Path, cache: Path) -> None:
    """The first load (a fresh cache), its speed against one process, and its pixels against the built-in set."""
    from sweeps import load_dataset
    from sweeps.decode import decode_files, workers
    from sweeps.image_source import read_source

    os.environ["ANYNET_CACHE"] = str(cache)
    started = time.perf_counter()
    ours = load_dataset(str(folder), fallback=28, progress=True)
    seconds = time.perf_counter() - started
    n = len(ours.train_y) + len(ours.test_y)
    print(
        f"decode: {n:,} images in {seconds:.1f} s ({n / seconds:,.0f} images/s) in {workers(n)} processes, cache "
        f"written, load included"
    )
    listed = [row[0] for row in read_source(folder).files["train"]]
    import sweeps.decode as d

    below = d.SERIAL_BELOW
    for count in (1000, 2000, 8000):  # where spawning worker processes starts to pay (decode.SERIAL_BELOW)
        files, out = listed[:count], np.zeros((count, 3, 28, 28), np.uint8)
        d.SERIAL_BELOW = 10**9  # this process alone
        t = time.perf_counter()
        decode_files(folder, files, 28, True, out, False)
        serial = time.perf_counter() - t
        d.SERIAL_BELOW = 0  # every core
        t = time.perf_counter()
        decode_files(folder, files, 28, True, out, False)
        parallel = time.perf_counter() - t
        print(
            f"decode: {count:,} images in this process {serial:.2f} s ({count / serial:,.0f}/s), in {workers()} "
            f"processes {parallel:.2f} s ({count / parallel:,.0f}/s, their start included): {serial / parallel:.2f}x"
        )
    d.SERIAL_BELOW = below
    builtin = load_dataset("fashion-mnist")
    same = all(
        np.array_equal(getattr(ours, k).numpy(), getattr(builtin, k).numpy())
        for k in ("train_x", "train_y", "test_x", "test_y")
    )
    print(
        f"decode: pixels, labels and order equal to the built-in set: {same}; mean/std equal: "
        f"{ours.mean == builtin.mean and ours.std == builtin.std} ({ours.mean[0]:.6f}/{ours.std[0]:.6f})"
    )
    if not same:
        sys.exit(1)


def start(folder: Path, cache: Path) -> None:
    """Seconds from a fresh process's start to the data in hand: the cached folder against the built-in set."""
    env = {**os.environ, "ANYNET_CACHE": str(cache)}
    times = {}
    for label, name in (("cached folder", str(folder)), ("built-in fashion-mnist", "fashion-mnist")):
        runs = []
        for _ in range(3):
            t = time.perf_counter()
            out = subprocess.run(
                [sys.executable, "-c", LOAD, name], env=env, capture_output=True, text=True, check=True
            )
            runs.append((time.perf_counter() - t, float(out.stdout.split()[1])))
        wall, load = sorted(runs)[1]
        times[label] = load
        print(f"start: {label}: {wall:.2f} s process wall, {load:.3f} s in load_dataset (median of 3)")
    print(
        f"start: the cached folder loads in {times['cached folder'] / times['built-in fashion-mnist']:.2f}x the "
        f"built-in set's time"
    )


def _mapped(pid: int, path: str) -> tuple[int, int, int, int]:
    """(RSS, private, dataset RSS, dataset PSS) of a process in bytes, the dataset being the mappings of `path`
    (the memory-mapped cache) or of Ray's object store (/dev/shm or plasma)."""
    rss = private = data_rss = data_pss = 0
    current = None
    try:
        with open(f"/proc/{pid}/smaps") as f:
            for line in f:
                if re.match(r"^[0-9a-f]+-[0-9a-f]+ ", line):
                    parts = line.split()
                    current = parts[5] if len(parts) > 5 else ""
                    continue
                key, _, value = line.partition(":")
                if key not in ("Rss", "Pss", "Private_Clean", "Private_Dirty"):
                    continue
                kb = int(value.split()[0]) * 1024
                is_data = current and (current == path or "plasma" in current or current.startswith("/dev/shm"))
                if key == "Rss":
                    rss += kb
                    data_rss += kb if is_data else 0
                elif key == "Pss":
                    data_pss += kb if is_data else 0
                else:
                    private += kb
    except OSError:
        pass
    return rss, private, data_rss, data_pss


def _trials() -> list[int]:
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                cmd = Path(f"/proc/{entry}/cmdline").read_bytes().decode(errors="replace")
            except OSError:
                continue
            if cmd.startswith("ray::ImplicitFunc"):
                pids.append(int(entry))
    return pids


def memory(folder: Path, cache: Path, resolution: int) -> None:
    """Per-trial memory of a 4-trial sweep, the dataset memory-mapped and then shipped through the object store."""
    import ray

    import sweeps.tune_trials as tt
    from sweeps import Dataset, ImageOptions, load_dataset, run_sweeps, sweep_from_dict

    os.environ["ANYNET_CACHE"] = str(cache)
    data = load_dataset(str(folder), images=ImageOptions(resolution=resolution), progress=True)
    size = (Path(data.cache) / "x.npy").stat().st_size
    print(
        f"memory: dataset {len(data.train_y) + len(data.test_y):,} images at {resolution} px: {size / 2**20:,.0f} MiB"
    )
    ray.init(num_cpus=4, include_dashboard=False, log_to_driver=False, logging_level="ERROR")
    try:
        ways = (("memory-mapped cache", True), ("Ray object store", False), ("torch tensors (before)", False))
        for label, local in ways:
            tt.one_machine = lambda local=local: local
            if label.startswith("torch"):  # how datasets were shipped before: torch's pickling, a copy per process
                Dataset.__reduce__ = lambda self: (Dataset, tuple(getattr(self, f.name) for f in fields(self)))
            with tempfile.TemporaryDirectory(prefix="mem", dir="/tmp") as tmp:
                config = sweep_from_dict(
                    {
                        "name": "mem",
                        "out_dir": tmp,
                        "space": "AnyNetX_A-small",
                        "overrides": {"resolution": resolution},
                        "n": 8,
                        "flops": "2M:6M",
                        "dataset": str(folder),
                        "images": {"resolution": resolution},
                        "recipe": {"images": 4096, "batch_size": 64},
                        "measure": {"enabled": False},
                    }
                )
                peaks: dict[int, tuple[int, int, int, int]] = {}
                done = threading.Event()

                def sample() -> None:
                    while not done.wait(0.5):
                        for pid in _trials():
                            now = _mapped(pid, str(Path(data.cache) / "x.npy"))
                            if now[0] > peaks.get(pid, (0,))[0]:
                                peaks[pid] = now

                sampler = threading.Thread(target=sample)
                sampler.start()
                run_sweeps([config], progress=False, data=data)
                done.set()
                sampler.join()
            mib = 2**20
            for pid, (rss, private, data_rss, data_pss) in sorted(peaks.items()):
                print(
                    f"memory: {label}: trial pid {pid}: RSS {rss / mib:,.0f} MiB, private {private / mib:,.0f} MiB, "
                    f"dataset pages resident {data_rss / mib:,.0f} MiB (proportional share {data_pss / mib:,.0f} MiB)"
                )
            total = sum(p[3] for p in peaks.values())
            print(
                f"memory: {label}: {len(peaks)} trials; the dataset's pages counted once over all of them: "
                f"{total / mib:,.0f} MiB of the dataset's {size / mib:,.0f} MiB; private memory per trial "
                f"{np.median([p[1] for p in peaks.values()]) / mib:,.0f} MiB (median)"
            )
    finally:
        ray.shutdown()


def compare(first: Path, second: Path) -> None:
    """Each model's error in two study folders, per sweep folder (the sweeps, their fidelity re-runs and re-trained
    models), and the largest difference."""
    from sweeps import load_results

    worst, models = 0.0, 0
    for results in sorted(first.rglob("results.jsonl")):
        folder = results.parent
        other = second / folder.relative_to(first)
        if not (other / "results.jsonl").is_file():
            print(f"compare: {folder.relative_to(first)}: not in {second}")
            continue
        both = load_results(folder).merge(load_results(other), on="id", suffixes=("_a", "_b"))
        diff = (both.error_a - both.error_b).abs().max()
        worst, models = max(worst, diff), models + len(both)
        print(f"compare: {folder.relative_to(first)}: {len(both)} models in both, largest difference {diff:.4f} points")
    print(f"compare: {models} models in both; the largest error difference over all of them {worst:.4f} points")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", type=Path, default=Path("/tmp/fmnist-png"), help="the ImageFolder to write/read")
    parser.add_argument("--steps", default="write,decode,start,memory")
    parser.add_argument("--memory-resolution", type=int, default=64)
    parser.add_argument("--studies", nargs=2, type=Path, help="with compare: two study folders")
    args = parser.parse_args()
    steps = args.steps.split(",")
    cache = args.dir.with_name(args.dir.name + "-cache")
    model = Path("/proc/cpuinfo").read_text().split("model name")[1].split(":")[1].splitlines()[0].strip()
    print(f"machine: {os.cpu_count()} cores, {model}")
    if "write" in steps:
        write(args.dir)
    if "decode" in steps:
        import shutil

        shutil.rmtree(cache, ignore_errors=True)
        decode(args.dir, cache)
    if "start" in steps:
        start(args.dir, cache)
    if "memory" in steps:
        memory(args.dir, cache, args.memory_resolution)
    if "compare" in steps:
        compare(*args.studies)


if __name__ == "__main__":
    main()
