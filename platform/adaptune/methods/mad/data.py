"""``digits-decathlon``: scikit-learn's 8x8 handwritten digits as six visual domains.

    images, labels, domains = digits_decathlon(size=32)   # (6n, 3, 32, 32) in [0, 1]
    images.shape, DOMAINS                                  # domain d = DOMAINS[domains[i]]

Every domain holds the same digit images (so one train/val split of the digits is
a split of every domain), upsampled to ``size`` and turned RGB, then transformed
deterministically: original, inverted, rotated 90 degrees, noisy, blurred and
colour-tinted. Noise and tints come from a fixed seed, so the data never changes.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from .config import DOMAINS


def load_digits_images(size: int = 32, n: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """The first `n` sklearn digits as (n, 3, size, size) in [0, 1], and their labels."""
    from sklearn.datasets import load_digits

    bunch = load_digits()
    x = torch.tensor(bunch.images[:n], dtype=torch.float32)[:, None] / 16.0
    x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False)
    return x.clamp(0, 1).repeat(1, 3, 1, 1), torch.tensor(bunch.target[:n], dtype=torch.long)


def _blur(x: torch.Tensor) -> torch.Tensor:
    # A 5x5 Gaussian (sigma ~1.5 pixels at 32x32) per channel: strokes lose their edges.
    t = torch.arange(-2, 3, dtype=torch.float32)
    g = torch.exp(-(t**2) / (2 * 1.5**2))
    k = (g[:, None] * g[None, :]) / g.sum() ** 2
    weight = k.expand(x.shape[1], 1, 5, 5).contiguous()
    return F.conv2d(F.pad(x, (2, 2, 2, 2), mode="replicate"), weight, groups=x.shape[1])


def _tint(x: torch.Tensor, rng: np.random.Generator) -> torch.Tensor:
    # Ink and paper each get their own random colour per image.
    fg = torch.tensor(rng.uniform(0.0, 1.0, (len(x), 3, 1, 1)), dtype=torch.float32)
    bg = torch.tensor(rng.uniform(0.0, 1.0, (len(x), 3, 1, 1)), dtype=torch.float32)
    return fg * x + bg * (1 - x)


def transform(x: torch.Tensor, domain: str, seed: int = 0) -> torch.Tensor:
    """Images `x` (n, 3, s, s) in [0, 1] as seen in `domain`; same inputs -> same output."""
    if domain not in DOMAINS:
        raise ValueError(f"unknown domain '{domain}'; valid: {', '.join(DOMAINS)}")
    rng = np.random.default_rng([seed, DOMAINS.index(domain)])
    if domain == "original":
        return x.clone()
    if domain == "inverted":
        return 1.0 - x
    if domain == "rotated":
        return torch.rot90(x, 1, dims=(2, 3)).contiguous()
    if domain == "noisy":
        noise = torch.tensor(rng.normal(0.0, 0.35, x.shape), dtype=torch.float32)
        return (x + noise).clamp(0, 1)
    if domain == "blurred":
        return _blur(x)
    if domain == "tinted":
        return _tint(x, rng)
    raise AssertionError(domain)  # every name in DOMAINS has a branch above


def digits_decathlon(
    size: int = 32, n: int | None = None, seed: int = 0
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """All domains stacked: images (D*n, 3, size, size), labels (D*n,), domain ids (D*n,)."""
    x, y = load_digits_images(size, n)
    images = torch.cat([transform(x, d, seed) for d in DOMAINS])
    labels = y.repeat(len(DOMAINS))
    domains = torch.arange(len(DOMAINS)).repeat_interleave(len(x))
    return images, labels, domains


def broad_source(x: torch.Tensor, seed: int = 0, copies: int = 4) -> torch.Tensor:
    """The base's broad pretraining set: `x` and copies-1 randomly varied views of it
    (rotation up to 15 degrees, shift up to 10 %, scale 0.85-1.15, thicker strokes in
    half the images, ink contrast 0.6-1). None of them is a target domain's transform;
    they stand in for the breadth of ImageNet behind the Decathlon's base."""
    gen = torch.Generator().manual_seed(seed)
    views = [x]
    for _ in range(copies - 1):
        n = len(x)
        u = lambda lo, hi, n=n: lo + (hi - lo) * torch.rand(n, generator=gen)  # noqa: E731
        angle, scale = u(-0.26, 0.26), u(0.85, 1.15)
        cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
        theta = torch.stack(
            [torch.stack([cos, -sin, u(-0.2, 0.2)], 1), torch.stack([sin, cos, u(-0.2, 0.2)], 1)],
            1,
        )
        grid = F.affine_grid(theta, list(x.shape), align_corners=False)
        v = F.grid_sample(x, grid, align_corners=False, padding_mode="zeros")
        thick = (torch.rand(n, generator=gen) < 0.5)[:, None, None, None]
        v = torch.where(thick, F.max_pool2d(v, 3, 1, 1), v)
        views.append((v * u(0.6, 1.0)[:, None, None, None]).clamp(0, 1))
    return torch.cat(views)
