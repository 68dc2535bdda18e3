"""Batches made on the training device: a seeded permutation, uint8 gather, normalization, resize, augmentation,
all as batched tensor ops; no per-sample Python and no DataLoader workers."""

from __future__ import annotations

from collections.abc import Iterator

import torch
import torch.nn.functional as F


class BatchMaker:
    """Turns uint8 image batches into normalized float batches at the model's resolution."""

    def __init__(
        self,
        mean: tuple[float, ...],
        std: tuple[float, ...],
        resolution: int,
        device: torch.device,
        *,
        channels_last: bool,
        crop_pad: int = 0,
        flip: bool = False,
    ) -> None:
        std_t = torch.tensor(std, device=device).view(1, -1, 1, 1)
        self.scale = 1 / (255 * std_t)
        self.shift = -torch.tensor(mean, device=device).view(1, -1, 1, 1) / std_t
        self.resolution = resolution
        self.memory_format = torch.channels_last if channels_last else torch.contiguous_format
        self.crop_pad, self.flip = crop_pad, flip

    def __call__(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """uint8 [B, C, H, W] -> normalized float; random crop/flip only when a generator is given (training)."""
        x = torch.addcmul(self.shift, x.float(), self.scale)
        if x.shape[-1] != self.resolution or x.shape[-2] != self.resolution:
            x = F.interpolate(x, size=(self.resolution, self.resolution), mode="bilinear", align_corners=False)
        if generator is not None and self.crop_pad:
            x = random_crop(x, self.crop_pad, generator)
        if generator is not None and self.flip:
            flips = torch.rand(x.shape[0], device=x.device, generator=generator) < 0.5
            x = torch.where(flips.view(-1, 1, 1, 1), x.flip(3), x)
        return x.contiguous(memory_format=self.memory_format)


def random_crop(x: torch.Tensor, pad: int, generator: torch.Generator) -> torch.Tensor:
    """Zero-pad by `pad` and crop back to size at a random offset per image, in one gather."""
    b, _, h, w = x.shape
    padded = F.pad(x, (pad, pad, pad, pad))
    dy = torch.randint(0, 2 * pad + 1, (b, 1), device=x.device, generator=generator)
    dx = torch.randint(0, 2 * pad + 1, (b, 1), device=x.device, generator=generator)
    rows = (dy + torch.arange(h, device=x.device)).view(b, 1, h, 1)
    cols = (dx + torch.arange(w, device=x.device)).view(b, 1, 1, w)
    batch = torch.arange(b, device=x.device).view(b, 1, 1, 1)
    channel = torch.arange(x.shape[1], device=x.device).view(1, -1, 1, 1)
    return padded[batch, channel, rows, cols]


def train_batches(
    n: int, batch_size: int, steps: int, generator: torch.Generator, device: torch.device
) -> Iterator[tuple[int, torch.Tensor]]:
    """(epoch, indices) for `steps` full batches: epochs are seeded permutations of n; a partial last batch of an
    epoch is dropped, so every step sees batch_size images."""
    per_epoch = n // batch_size
    if per_epoch == 0:
        raise ValueError(f"batch_size {batch_size} is larger than the {n} training images")
    step, epoch = 0, 0
    while step < steps:
        perm = torch.randperm(n, device=device, generator=generator)
        for i in range(min(per_epoch, steps - step)):
            yield epoch, perm[i * batch_size : (i + 1) * batch_size]
        step += min(per_epoch, steps - step)
        epoch += 1
