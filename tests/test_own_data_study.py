"""A study on a folder of the user's own images, through the anynet command: decoded once with a progress line,
the cache used by the next run, the data recorded in every sweep folder, a changed folder refused."""

import subprocess
import sys

import numpy as np
import yaml
from PIL import Image

ARGS = [
    "--spaces",
    "A,regnetx",
    "--n",
    "2",
    "--images",
    "256",
    "--fidelity",
    "0",
    "--retrain-top",
    "0",
]


def folder_of_images(root, per_class=30):
    """Two classes of PNG and JPEG images of mixed sizes, each class its own brightness."""
    rng = np.random.default_rng(0)
    for label, name in enumerate(["dark", "light"]):
        (root / name).mkdir(parents=True)
        for i in range(per_class):
            h, w = rng.integers(24, 48, size=2)
            pixels = np.clip(rng.normal(60 + 120 * label, 30, size=(h, w, 3)), 0, 255).astype(np.uint8)
            Image.fromarray(pixels).save(root / name / f"{i:03d}.{'png' if i % 2 else 'jpg'}")


def anynet(*args, env):
    return subprocess.run([sys.executable, "-m", "anynet.cli", *args], env=env, capture_output=True, text=True)


def test_a_study_on_an_image_folder_decodes_once_and_records_its_data(tmp_path, ray_env):
    images, out = tmp_path / "images", tmp_path / "study"
    folder_of_images(images)
    env = {**ray_env, "ANYNET_CACHE": str(tmp_path / "cache")}
    first = anynet("study", "--dataset", str(images), *ARGS, "--out", str(out), env=env)
    assert first.returncode == 0, first.stderr[-3000:]
    assert f"anynet: {images}: decoding 60 images at 28 px" in first.stdout and "decoding: 100%" in first.stdout
    assert "note: batch sizes larger than the 48 training images lowered: recipe 16" in first.stdout
    for name in ("AnyNetX_A", "RegNetX"):
        assert f"  {name}: 2 ok, 0 failed, 0 not finished" in first.stdout
        record = yaml.safe_load((out / "sweeps" / name / "data.yaml").read_text())
        assert record["classes"] == ["dark", "light"] and record["channels"] == 3 and record["resolution"] == 28
        assert record["images"] == {"train": 48, "test": 12} and record["per_class"]["test"] == [6, 6]
        settings = yaml.safe_load((out / "sweeps" / name / "sweep.yaml").read_text())
        assert settings["identity"]["dataset"] == str(images) and settings["identity"]["images"]["resolution"] == 28
    again = anynet("study", "--dataset", str(images), *ARGS, "--out", str(out), env=env)
    assert again.returncode == 0 and "using the decoded cache" in again.stdout and "decoding" not in again.stdout
    Image.fromarray(np.zeros((30, 30, 3), np.uint8)).save(images / "dark" / "new.png")
    grown = anynet("study", "--dataset", str(images), *ARGS[:3], "3", *ARGS[4:], "--out", str(out), env=env)
    assert grown.returncode == 1 and "has changed since" in grown.stderr.splitlines()[-1]
    assert "(60 images then, 61 now)" in grown.stderr
