"""The brief-training recipe: the paper's low-fidelity protocol by default, every field overridable."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from typing import Any

from anynet.errors import AnynetError, SpecError, check_keys
from anynet.validate import check_int, check_real, parse_number


BUDGETS = ("epochs", "images", "budget_macs")  # a recipe has exactly one
WARMUP_FACTOR = 0.1  # lr at the first warm-up step, as a fraction of lr (pycls's OPTIM.WARMUP_FACTOR)
# Fields that change how fast a model is trained and evaluated, never what it learns or scores.
SPEED_ONLY = ("eval_batch_size",)


class RecipeError(AnynetError):
    """An invalid recipe field."""


@dataclass(frozen=True)
class Recipe:
    """SGD (momentum 0.9, Nesterov), lr 0.05 at batch 128 scaled linearly with the batch size, half-period cosine
    decay per step, weight decay 5e-5, no warm-up, cross-entropy. `warmup` > 0 ramps lr up linearly over that
    fraction of the steps (from 0.1 x lr, as pycls does); `precise_bn` > 0 recomputes the BatchNorm statistics on that
    many training images before each evaluation (pycls's BN.USE_PRECISE_STATS). The budget is exactly one of: epochs
    (fractions allowed), images, or budget_macs, training multiply-adds (3 x model flops per image) from which the
    number of images follows, so models in a complexity band get equal compute. crop_pad > 0 adds pad-and-random-crop,
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
    warmup: float = 0.0  # fraction of the steps over which lr rises linearly from WARMUP_FACTOR x lr
    precise_bn: int = 0  # training images for precise BatchNorm statistics before each evaluation (0: off)
    eval_batch_size: int = 128

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
            epochs = check_real("epochs", parse_number("epochs", self.epochs), low=0.0, strict=True)
            object.__setattr__(self, "epochs", epochs)
        if self.images is not None:
            object.__setattr__(self, "images", check_int("images", parse_number("images", self.images), minimum=1))
        if self.budget_macs is not None:
            macs = check_real("budget_macs", parse_number("budget_macs", self.budget_macs), low=0.0, strict=True)
            object.__setattr__(self, "budget_macs", macs)
        for name in ("batch_size", "eval_batch_size"):
            object.__setattr__(self, name, check_int(name, getattr(self, name), minimum=1))
        object.__setattr__(self, "crop_pad", check_int("crop_pad", self.crop_pad, minimum=0))
        object.__setattr__(self, "warmup", check_real("warmup", self.warmup, low=0.0))
        if self.warmup >= 1:
            raise RecipeError(f"warmup: a fraction of the steps in [0, 1), got {self.warmup!r}")
        precise = check_int("precise_bn", parse_number("precise_bn", self.precise_bn), minimum=0)
        if 0 < precise < self.batch_size:
            raise RecipeError(f"precise_bn: 0 (off) or at least one batch ({self.batch_size} images), got {precise}")
        object.__setattr__(self, "precise_bn", precise)
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
        check_keys(data, names, "recipe", RecipeError)
        return cls(**data)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def override(self, changes: dict[str, Any]) -> Recipe:
        """This recipe with some fields changed (a dict of Recipe fields, checked as from_dict does); a budget
        among them (epochs, images or budget_macs) replaces this recipe's budget."""
        check_keys(changes, [f.name for f in fields(self)], "recipe", RecipeError)
        kept = {k: v for k, v in self.to_dict().items() if not (k in BUDGETS and any(b in changes for b in BUDGETS))}
        return Recipe(**{**kept, **changes})

    def describe(self) -> str:
        """The recipe in words, e.g. '100G training multiply-adds per model; SGD batch 64, lr 0.05, ...'."""
        from anynet.validate import format_count

        if self.budget_macs is not None:
            budget = f"{format_count(self.budget_macs).replace('.00', '')} training multiply-adds per model"
        else:
            budget = f"{self.epochs:g} epoch(s)" if self.epochs is not None else f"{self.images:,} images"
        extras = [f"{self.warmup:.0%} warm-up"] if self.warmup else []
        extras += [f"precise BatchNorm statistics on {self.precise_bn:,} images"] if self.precise_bn else []
        extras += [f"crop padding {self.crop_pad}"] if self.crop_pad else []
        extras += ["flips"] if self.flip else []
        return (
            f"{budget}; SGD batch {self.batch_size}, lr {self.lr:g} (at batch 128, scaled), cosine decay, "
            f"weight decay {self.weight_decay:g}" + "".join(f", {e}" for e in extras)
        )

    def identity(self) -> dict[str, Any]:
        """The fields that decide what a model learns (speed-only fields left out), for binding a sweep folder."""
        return {k: v for k, v in self.to_dict().items() if k not in SPEED_ONLY}

    @classmethod
    def identity_of(cls, data: dict[str, Any]) -> dict[str, Any]:
        """The identity of a recipe recorded as a dict, perhaps by an older anynet: fields added since then take
        their defaults, which keep the old behaviour."""
        return cls.from_dict({k: v for k, v in data.items() if k not in SPEED_ONLY}).identity()

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
        """lr scaled to the batch size, half-period cosine decay over the steps, times the warm-up's linear ramp."""
        lr = self.lr * self.batch_size / 128 * 0.5 * (1 + math.cos(math.pi * step / total))
        ramp = self.warmup * total
        if step < ramp:
            lr *= WARMUP_FACTOR + (1 - WARMUP_FACTOR) * step / ramp
        return lr


def parse_recipe_spec(spec: str, flag: str) -> dict[str, Any]:
    """The recipe fields a command-line SPEC names: `key=value,...` (values read as YAML scalars: 0.1, 5e-4, true,
    100G) or the path of a YAML file holding a mapping of them; checked against Recipe's fields (a RecipeError
    naming `flag` and the allowed fields otherwise). Apply them with Recipe.override."""
    import yaml

    from pathlib import Path

    names = [f.name for f in fields(Recipe)]
    path = Path(spec)
    if "=" not in spec and (path.suffix in (".yaml", ".yml") or path.exists()):
        if not path.is_file():
            raise RecipeError(f"{flag}: {spec} is not a file (give key=value,... or a recipe YAML file)")
        data = yaml.safe_load(path.read_text()) or {}
        data = data.get("recipe", data) if isinstance(data, dict) else data
        if not isinstance(data, dict):
            raise RecipeError(f"{flag}: {spec} holds no mapping of recipe fields ({', '.join(names)})")
    else:
        data = {}
        for item in filter(None, (part.strip() for part in spec.split(","))):
            key, sep, value = item.partition("=")
            if not sep or not key.strip() or not value.strip():
                raise RecipeError(f"{flag}: {item!r} is not key=value (fields: {', '.join(names)})")
            data[key.strip()] = _scalar(value.strip())
        if not data:
            raise RecipeError(f"{flag}: empty; give key=value,... over the fields {', '.join(names)}")
    check_keys(data, names, flag, RecipeError)
    try:
        Recipe().override(data)  # every value checked now, naming its field
    except RecipeError as e:
        raise RecipeError(f"{flag}: {e}") from None
    return data


def _scalar(text: str) -> Any:
    """A SPEC value as YAML reads it (0.1 a float, 5e-4 too, true a bool); text otherwise (100G for parse_number)."""
    import yaml

    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError:
        return text
    if isinstance(value, str):
        try:
            return float(value) if any(c in value for c in ".eE") else int(value)
        except ValueError:
            return value
    return value
