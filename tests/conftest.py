"""Shared fixtures: a Ray environment whose processes are all stopped when the test ends."""

import os
import signal
import tempfile
import time
from pathlib import Path

import pytest


@pytest.fixture
def ray_env():
    yield from _ray_environment()


@pytest.fixture(scope="module")
def ray_env_module():
    yield from _ray_environment()


def _ray_environment():
    """An environment whose Ray keeps its files in a fresh short folder; afterwards every process that carries
    that folder in its environment (Ray's daemons and workers, even orphans of a killed driver) is killed."""
    folder = tempfile.mkdtemp(prefix="anyray", dir="/tmp")  # short: Ray's socket paths must fit in 107 bytes
    env = {**os.environ, "RAY_TMPDIR": folder, "PYTHONUNBUFFERED": "1"}
    yield env
    for pid in processes_with(f"RAY_TMPDIR={folder}"):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    assert not processes_with(f"RAY_TMPDIR={folder}", wait=120)


def processes_with(marker: str, wait: float = 0) -> list[int]:
    deadline = time.monotonic() + wait
    while True:
        found = []
        for proc in Path("/proc").iterdir():
            if proc.name.isdigit() and int(proc.name) != os.getpid():
                try:
                    if marker.encode() in (proc / "environ").read_bytes().split(b"\0"):
                        found.append(int(proc.name))
                except OSError:
                    pass
        if not found or time.monotonic() >= deadline:
            return found
        time.sleep(0.2)
