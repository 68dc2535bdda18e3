"""Datasets, brief training, and (next) sweeps on Ray Tune."""

from sweeps.data import DataError, Dataset, load_dataset, synthetic
from sweeps.recipe import Recipe, RecipeError
from sweeps.train import TrainError, TrainResult, train

__all__ = [
    "DataError", "Dataset", "Recipe", "RecipeError", "TrainError", "TrainResult", "load_dataset", "synthetic", "train",
]  # fmt: skip
