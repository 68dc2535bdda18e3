"""The brief-training recipe: the paper's low-fidelity protocol by default, every field overridable."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from typing import Any

from anynet.errors import AnynetError, SpecError
from anynet.validate import check_int, check_real, parse_number


class RecipeError(AnynetError):
    """An invalid recipe field."""


@dataclass(frozen=True)
class Recipe:
    """SGD (momentum 0.9, Nesterov), lr 0.05 at batch 128 scaled linearly with the batch size, half-period cosine
    decay per step, weight decay 5e-5, no warm-up, cross-entropy. The budget is exactly one of: epochs (fractions
    allowed), images, or budget_macs, training multiply-adds (3 x model flops per image) from which the number
    of images follows, so models in a complexity band get equal compute. crop_pad > 0 adds pad-and-random-crop,
    flip adds random horizontal flips."""

    epochs: float | None = None  # 1 when no budget is given
    images: int | None = None
    budget_macs: float | None = None
    batch_size: int = 128
    lr: float = 0.05
    momentum: float = 0.9
    nesterov: bool = True
    weight_decay: float = 5e-5
    crop_pad: int = 0
    flip: bool = False
    eval_batch_size: int = 1024

    def __post_init__(self) -> None:
        try:
            self._validate()
        except SpecError as e:  # the shared field checks name the field; a recipe's errors are RecipeErrors
            raise RecipeError(str(e)) from None

    def _validate(self) -> None:
        given = [k for k in ("epochs", "images", "budget_macs") if getattr(self, k) is not None]
        if len(given) > 1:
            raise RecipeError(f"budget: give one of epochs, images, budget_macs, not {' and '.join(given)}")
        if not given:
            object.__setattr__(self, "epochs", 1.0)
        if self.epochs is not None:
            object.__setattr__(self, "epochs", check_real("epochs", self.epochs, low=0.0, strict=True))
        if self.images is not None:
            object.__setattr__(self, "images", check_int("images", parse_number("images", self.images), minimum=1))
        if self.budget_macs is not None:
            macs = check_real("budget_macs", parse_number("budget_macs", self.budget_macs), low=0.0, strict=True)
            object.__setattr__(self, "budget_macs", macs)
        for name in ("batch_size", "eval_batch_size"):
            object.__setattr__(self, name, check_int(name, getattr(self, name), minimum=1))
        object.__setattr__(self, "crop_pad", check_int("crop_pad", self.crop_pad, minimum=0))
        object.__setattr__(self, "lr", check_real("lr", self.lr, low=0.0, strict=True))
        object.__setattr__(self, "momentum", check_real("momentum", self.momentum, low=0.0))
        object.__setattr__(self, "weight_decay", check_real("weight_decay", self.weight_decay, low=0.0))
        for name in ("nesterov", "flip"):
            if not isinstance(getattr(self, name), bool):
                raise RecipeError(f"{name}: must be true or false, got {getattr(self, name)!r}")
        if self.nesterov and self.momentum == 0:
            raise RecipeError("nesterov: needs momentum > 0")

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Recipe:
        """A recipe from a dict (e.g. a sweep file's `recipe`); unknown keys are errors naming the allowed ones."""
        names = [f.name for f in fields(cls)]
        unknown = [k for k in data if k not in names]
        if unknown:
            raise RecipeError(f"recipe.{unknown[0]}: unknown field; allowed fields: {', '.join(names)}")
        return cls(**data)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def train_images(self, n_train: int, flops: int) -> int:
        """How many training images the budget buys, for a training set of n_train and a model of `flops`."""
        if self.epochs is not None:
            return max(1, round(self.epochs * n_train))
        if self.images is not None:
            return self.images
        return max(1, round(self.budget_macs / (3 * flops)))

    def steps(self, n_train: int, flops: int) -> int:
        """Optimizer steps: the budget's images in full batches (at least one)."""
        return max(1, self.train_images(n_train, flops) // self.batch_size)

    def lr_at(self, step: int, total: int) -> float:
        """lr scaled to the batch size, half-period cosine decay over the steps, no warm-up."""
        return self.lr * self.batch_size / 128 * 0.5 * (1 + math.cos(math.pi * step / total))
