"""Batches on the device, the recipe, and brief training: learning, determinism, divergence, errors, the CLI."""

import json
import math
from pathlib import Path

import pytest
import torch

from anynet.cli import main
from random_specs import TINY
from sweeps import Recipe, RecipeError, TrainError, load_dataset, synthetic, train
from sweeps.image_batches import BatchMaker, random_crop, train_batches

FASHION = Path("/usr/share/datasets/fashion-mnist")
QUICK = Recipe(images=4096, batch_size=32, lr=0.2)


@pytest.fixture(scope="module")
def data():
    return synthetic()


def test_batches_are_normalized_and_channels_last(data):
    maker = BatchMaker(data.mean, data.std, 28, torch.device("cpu"), channels_last=True)
    x = maker(data.train_x)
    assert x.dtype == torch.float32 and x.is_contiguous(memory_format=torch.channels_last)
    assert abs(x.mean().item()) < 1e-3 and abs(x.std().item() - 1) < 1e-3


def test_resize_on_the_device(data):
    x = BatchMaker(data.mean, data.std, 32, torch.device("cpu"), channels_last=False)(data.train_x[:8])
    assert x.shape == (8, 1, 32, 32)
    spec = TINY.with_fields(resolution=32)
    result = train(spec, data, Recipe(images=256, batch_size=32), threads=1)
    assert result.status == "ok"


def test_random_crop_shifts_each_image_within_the_padding():
    x = torch.arange(2 * 1 * 6 * 6, dtype=torch.float32).view(2, 1, 6, 6) + 1
    out = random_crop(x, 2, torch.Generator().manual_seed(0))
    assert out.shape == x.shape
    for i in range(2):  # every crop is a window of the zero-padded image
        padded = torch.nn.functional.pad(x[i], (2, 2, 2, 2))
        windows = [padded[:, r : r + 6, c : c + 6] for r in range(5) for c in range(5)]
        assert any(torch.equal(out[i], w) for w in windows)


def test_flip_and_crop_only_when_training(data):
    maker = BatchMaker(data.mean, data.std, 28, torch.device("cpu"), channels_last=False, crop_pad=2, flip=True)
    x = data.train_x[:64]
    assert torch.equal(maker(x), maker(x))  # evaluation: no randomness
    assert not torch.equal(maker(x, torch.Generator().manual_seed(0)), maker(x))


def test_train_batches_walk_seeded_epochs():
    batches = list(train_batches(10, 3, 7, torch.Generator().manual_seed(0), torch.device("cpu")))
    assert [e for e, _ in batches] == [0, 0, 0, 1, 1, 1, 2]
    first = torch.cat([i for e, i in batches if e == 0])
    assert len(set(first.tolist())) == 9  # a permutation, the partial batch dropped


def test_recipe_budget_and_schedule():
    r = Recipe(batch_size=256, lr=0.1)
    assert r.epochs == 1.0 and r.train_images(60000, 10**6) == 60000
    assert Recipe(epochs=0.25).train_images(60000, 10**6) == 15000
    assert Recipe(images="100k").train_images(60000, 10**6) == 100_000
    assert Recipe(budget_macs="3G").train_images(60000, 10**6) == 1000  # 3 x 1 MF per image
    assert r.lr_at(0, 100) == pytest.approx(0.2)  # 0.1 at batch 128, scaled to 256
    assert r.lr_at(50, 100) == pytest.approx(0.1) and r.lr_at(99, 100) < 1e-3
    assert Recipe.from_dict({"images": 512, "lr": 0.3}).images == 512


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(epochs=1, images=10), "budget: give one of epochs, images, budget_macs, not epochs and images"),
        (dict(epochs=0), "epochs: must be a number > 0"),
        (dict(batch_size=0), "batch_size: must be an integer >= 1"),
        (dict(lr=-1.0), "lr: must be a number > 0"),
        (dict(images="lots"), "images: 'lots' is not a number"),
        (dict(flip="yes"), "flip: must be true or false"),
        (dict(momentum=0.0), "nesterov: needs momentum > 0"),
    ],
)
def test_bad_recipes(kwargs, message):
    with pytest.raises(RecipeError, match=message):
        Recipe(**kwargs)


def test_unknown_recipe_key():
    with pytest.raises(RecipeError, match="recipe.warmup_epochs: unknown field; allowed fields: epochs"):
        Recipe.from_dict({"warmup_epochs": 5})


def test_learns_synthetic_data(data):
    result = train(TINY, data, QUICK, seed=0, threads=2)
    assert result.status == "ok" and result.message == ""
    assert result.error < 5.0, result.error  # chance is 90%: a broken gradient path cannot get here
    assert result.train_loss < 1.5 and result.seconds > 0
    assert result.images == 4096 and result.steps == 128 and result.images_per_s > 0
    assert (result.device, result.seed, result.threads) == ("cpu", 0, 2)
    assert set(result.versions) == {"python", "torch", "numpy", "anynet"}
    assert [e["epoch"] for e in result.epochs] == [1] and result.epochs[0]["images"] == 4096


def test_same_seed_same_result_on_the_cpu(data):
    recipe = Recipe(images=1024, batch_size=32, lr=0.2, crop_pad=2, flip=True)
    a, b = (train(TINY, data, recipe, seed=3, threads=2).to_dict() for _ in range(2))
    for timing in ("seconds", "train_seconds", "images_per_s"):
        a.pop(timing), b.pop(timing)
    assert a == b
    c = train(TINY, data, recipe, seed=4, threads=2)
    assert c.epochs[0]["train_loss"] != a["epochs"][0]["train_loss"]


def test_several_epochs_and_a_validation_split():
    split = synthetic(n_train=2048, n_test=256).with_val_split(0.25, seed=0)
    result = train(TINY, split, Recipe(epochs=0.5 * 3, batch_size=64, lr=0.2), threads=2)
    assert [e["epoch"] for e in result.epochs] == [1, 2]  # 1.5 epochs: one full and one half
    assert all("val_error" in e for e in result.epochs) and result.val_error is not None
    assert result.images == (int(1.5 * len(split.train_y)) // 64) * 64


def test_divergence_stops_early_and_still_evaluates(data):
    result = train(TINY, data, Recipe(images=4096, batch_size=32, lr=1e30), threads=2)
    assert result.status == "diverged" and "non-finite training loss at step" in result.message
    assert result.steps < 128 and result.error is not None and result.error > 50
    assert not math.isfinite(result.epochs[-1]["train_loss"])
    as_json = json.loads(json.dumps(result.to_dict(), allow_nan=False))  # strict JSON: no NaN
    assert as_json["train_loss"] is None and as_json["epochs"][-1]["train_loss"] is None


def test_a_failure_inside_training_is_a_result(data, monkeypatch):
    def broken(self, x):
        raise RuntimeError("out of memory (simulated)\nmore detail")

    monkeypatch.setattr("anynet.model.AnyNet.forward", broken)
    result = train(TINY, data, Recipe(images=64, batch_size=32), threads=1)
    assert result.status == "failed" and result.message == "RuntimeError: out of memory (simulated)"


@pytest.mark.parametrize(
    "spec, kwargs, message",
    [
        (TINY.with_fields(in_channels=3), {}, "in_channels: the spec takes 3, synthetic images have 1"),
        (TINY.with_fields(num_classes=100), {}, "num_classes: the spec predicts 100, synthetic has 10"),
        (TINY, {"device": "cuda"}, "device: cuda requested, but this torch"),
        (TINY, {"device": "tpu"}, "device: 'tpu' is not"),
        (TINY, {"recipe": Recipe(batch_size=100_000)}, "batch_size: 100000 is larger than the 8192"),
    ],
)
def test_arguments_that_cannot_train(data, spec, kwargs, message):
    if kwargs.get("device") == "cuda" and torch.cuda.is_available():
        pytest.skip("a GPU is present")
    with pytest.raises(TrainError, match=message):
        train(spec, data, **kwargs)


def test_zoo_models_are_fitted_to_the_data_and_spec_files_taken_as_written(data, tmp_path):
    from anynet.files import save_spec
    from anynet.zoo import zoo_spec
    from sweeps import spec_for_data

    fitted = spec_for_data("ResNet-20", data)
    assert (fitted.in_channels, fitted.num_classes, fitted.resolution) == (1, 10, 28)
    assert spec_for_data("resnet_20", data, resolution=16).resolution == 16
    save_spec(zoo_spec("ResNet-20"), tmp_path / "spec.yaml")
    written = spec_for_data(str(tmp_path / "spec.yaml"), data)
    assert written == zoo_spec("ResNet-20") and spec_for_data(str(tmp_path / "spec.yaml"), data, 64).resolution == 64


def test_cli_train_json(capsys):
    code = main(
        [
            "train",
            "ResNet-20",
            "--dataset",
            "synthetic",
            "--images",
            "2k",
            "--batch-size",
            "32",
            "--lr",
            "0.2",
            "--threads",
            "2",
            "--json",
        ]
    )
    out = json.loads(capsys.readouterr().out)
    assert code == 0 and out["status"] == "ok" and out["dataset"] == "synthetic"
    assert out["spec"]["in_channels"] == 1 and out["spec"]["resolution"] == 28  # the zoo model fitted to the data
    assert out["recipe"]["images"] == 2000 and out["images"] == 1984 and out["error"] < 50


def test_cli_train_leaves_unset_recipe_fields_to_the_recipe(capsys):
    code = main(
        ["train", "ResNet-20", "--dataset", "synthetic", "--images", "256", "--lr", "0.1", "--threads", "1", "--json"]
    )
    recipe = json.loads(capsys.readouterr().out)["recipe"]
    assert code == 0 and recipe == {**Recipe(images=256, lr=0.1).to_dict()}


def test_cli_train_summary_and_errors(capsys):
    assert main(["train", "ResNet-20", "--dataset", "synthetic", "--images", "512", "--threads", "1"]) == 0
    out = capsys.readouterr().out
    assert "ResNet-20 on synthetic" in out and "ok: test error" in out and "img/s" in out
    assert main(["train", "ResNet-20", "--dataset", "cifar11"]) == 1
    assert "anynet train: error: dataset: 'cifar11' is not one of" in capsys.readouterr().err
    assert main(["train", "ResNet-20", "--dataset", "synthetic", "--threads", "0"]) == 1
    assert "--threads: must be at least 1" in capsys.readouterr().err


@pytest.mark.skipif(not FASHION.is_dir(), reason="Fashion-MNIST not installed (apt-get install dataset-fashion-mnist)")
def test_short_real_fashion_mnist_run():
    data = load_dataset("fashion-mnist")
    result = train(TINY, data, Recipe(images=6400, batch_size=64, lr=0.2), threads=2)
    assert result.status == "ok" and result.error < 40  # chance: 90%
