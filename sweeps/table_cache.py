"""A sweep folder's results table (sweeps.load_results), kept between reads in the user's cache.

Reading a folder parses every record and validates every spec: about 0.16 ms a model, 16 s at 100,000. The table is
kept in $ANYNET_CACHE/tables (default ~/.cache/anynet/tables), one file per folder, with what it was read from: the
folder's path, the size, modification time and inode of plan.jsonl and results.jsonl, and the code that read them
(the source of the modules that make the table). A read that finds them all unchanged loads the table (1.7 s at
100,000); anything else (a record appended, the plan grown, anynet changed) reads the folder again and rewrites the
file. Only folders of at least MIN_MODELS records are kept. The cache is the user's own, written by anynet on this
machine (a sweep folder carries none, so no pickle from elsewhere is ever loaded), and never the only copy of
anything: deleting it costs one slow read. ANYNET_CACHE_TABLES=off turns it off.
"""

from __future__ import annotations

import hashlib
import os
import pickle
from collections.abc import Callable
from functools import cache
from pathlib import Path

import pandas as pd

from anynet.files import cache_dir, write_text_atomic

MIN_MODELS = 5_000  # below this a folder reads in under a second: not worth a cache file
SOURCES = ("anynet/spec.py", "anynet/counting.py", "sampler/frame.py", "sweeps/records.py", "sweeps/store.py")
ROOT = Path(__file__).resolve().parent.parent


def cached(folder: Path, files: tuple[str, ...], read: Callable[[], pd.DataFrame]) -> pd.DataFrame:
    """The folder's table from the cache where `files` (in the folder) and the code are unchanged, else `read()`,
    kept for the next time when large enough."""
    if os.environ.get("ANYNET_CACHE_TABLES") == "off":
        return read()
    key = _key(folder, files)
    path = cache_dir("tables") / f"{hashlib.sha256(str(folder.resolve()).encode()).hexdigest()[:32]}.pkl"
    try:
        with open(path, "rb") as f:  # the key first: a stale table is never unpickled
            if pickle.load(f) == key:
                return pickle.load(f)
    except Exception:  # none, unreadable, or from other versions of the libraries: read the folder
        pass
    table = read()
    if len(table) >= MIN_MODELS and _key(folder, files) == key:  # unchanged while it was read
        try:
            kept = pickle.dumps(key) + pickle.dumps(table, protocol=pickle.HIGHEST_PROTOCOL)
            write_text_atomic(path, kept)
        except OSError:
            pass  # a read-only or full cache costs the next read its speed, nothing else
    return table


def _key(folder: Path, files: tuple[str, ...]) -> tuple:
    """What a kept table is valid for: the folder, each file's size, modification time and inode (None where
    missing), and the reading code's digest."""
    stats = []
    for name in files:
        try:
            s = (folder / name).stat()
            stats.append((s.st_size, s.st_mtime_ns, s.st_ino))
        except FileNotFoundError:
            stats.append(None)
    return (str(folder.resolve()), tuple(stats), _code())


@cache
def _code() -> str:
    """The digest of the modules that make the table (read once a process)."""
    digest = hashlib.sha256()
    for name in SOURCES:
        digest.update((ROOT / name).read_bytes())
    return digest.hexdigest()
