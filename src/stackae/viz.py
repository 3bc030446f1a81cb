"""Pictures: first-layer filters as a grid (UFLDL's display_network) and learning curves."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ._files import atomic_write
from .exceptions import DataError

__all__ = ["filter_grid", "save_filter_grid", "save_learning_curves", "save_log_curves"]


def filter_grid(W: np.ndarray, image_shape: tuple[int, int], *, border: int = 1) -> np.ndarray:
    """Tile the columns of ``W`` (one per hidden unit) as images, as UFLDL's display_network.

    Each filter ``W[:, j]`` of length ``height * width`` is reshaped row-major to
    ``image_shape``, divided by its largest absolute value (so 0 is mid-grey) and placed
    in a grid of ``ceil(sqrt(n_hidden))`` columns, tiles separated by ``border`` pixels.

    Returns
    -------
    ndarray of float in [-1, 1], shape (rows*(h+border)+border, cols*(w+border)+border)
    """
    h, w = image_shape
    n_in, n_hidden = W.shape
    if h * w != n_in:
        raise DataError(f"Filters of {n_in} inputs cannot be shown as {h}x{w} images.")
    cols = int(np.ceil(np.sqrt(n_hidden)))
    rows = int(np.ceil(n_hidden / cols))
    grid = -np.ones((rows * (h + border) + border, cols * (w + border) + border))
    for j in range(n_hidden):
        tile = W[:, j].reshape(h, w)
        peak = np.max(np.abs(tile))
        r, c = divmod(j, cols)
        top, left = border + r * (h + border), border + c * (w + border)
        grid[top : top + h, left : left + w] = tile / peak if peak > 0 else tile
    return grid


def save_filter_grid(W: np.ndarray, image_shape: tuple[int, int], path, *, zoom: int | None = None) -> tuple[int, int]:
    """Write the filter grid as a grey PNG, each pixel enlarged ``zoom`` times (by default
    enough to make the picture at least 400 pixels wide). Returns (width, height)."""
    from PIL import Image

    grid = filter_grid(W, image_shape)
    if zoom is None:
        zoom = max(1, int(np.ceil(400 / grid.shape[1])))
    pixels = np.round((grid + 1.0) * 127.5).astype(np.uint8)
    image = Image.fromarray(pixels, mode="L").resize(
        (grid.shape[1] * zoom, grid.shape[0] * zoom), Image.Resampling.NEAREST
    )
    kind = image_format(path)
    atomic_write(path, lambda fh: image.save(fh, format=kind))
    return image.size


#: file suffixes the pictures are written as, and the format each names
IMAGE_FORMATS = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".webp": "WEBP", ".bmp": "BMP", ".tif": "TIFF",
                 ".tiff": "TIFF", ".gif": "GIF"}  # fmt: skip


def image_format(path) -> str:
    """The format a picture's file name asks for (its suffix): PNG, JPEG, ...; an
    unknown suffix is an error, not PNG bytes under another name."""
    suffix = Path(path).suffix.lower()
    if suffix not in IMAGE_FORMATS:
        raise DataError(
            f"'{path}': pictures are written as {', '.join(sorted(IMAGE_FORMATS))}; give a file name ending in one."
        )
    return IMAGE_FORMATS[suffix]


#: A figure of learning curves holds at most this many panels, this many a row.
MAX_PANELS, PANELS_A_ROW = 8, 4


def save_learning_curves(curves: dict, path, validation: dict | None = None, iterations: dict | None = None) -> None:
    """Plot the cost after each iteration of every stage (one panel per stage) to a
    picture in the format of ``path``'s suffix. ``validation``: each stage's validation
    scores, drawn on the panel's right axis; ``iterations``: each stage's iteration
    numbers (default 1, 2, ...: a resumed stage's log starts later)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    kind = image_format(path)
    validation, iterations = validation or {}, iterations or {}
    stages = [(name, curve) for name, curve in curves.items() if curve]
    if not stages:
        raise DataError("The model holds no learning curves to plot.")
    if len(stages) > MAX_PANELS:  # the rest in one panel, one after another: the figure stays bounded
        rest = stages[MAX_PANELS - 1 :]
        stages = [*stages[: MAX_PANELS - 1], (f"{len(rest)} more stages", [c for _, curve in rest for c in curve])]
        iterations = {k: v for k, v in iterations.items() if k != stages[-1][0]}
    columns = min(len(stages), PANELS_A_ROW)
    rows = -(-len(stages) // columns)
    fig, grid = plt.subplots(rows, columns, figsize=(3.2 * columns, 3.0 * rows), squeeze=False)
    for ax in grid.flat[len(stages) :]:
        ax.set_visible(False)
    for ax, (name, curve) in zip(grid.flat, stages):
        steps = iterations.get(name) or np.arange(1, len(curve) + 1)
        ax.plot(steps, curve, lw=1.2, label="cost")
        ax.set_title(name, fontsize=10)
        ax.set_xlabel("iteration")
        if min(curve) > 0:
            ax.set_yscale("log")
        ax.grid(alpha=0.3)
        scores = [(i, v) for i, v in zip(steps, validation.get(name) or []) if v is not None]
        if scores:
            right = ax.twinx()
            right.plot(*zip(*scores), lw=1.2, color="tab:orange", label="validation")
            right.tick_params(axis="y", labelcolor="tab:orange")
            right.set_ylabel("validation", color="tab:orange")
    for row in grid:
        row[0].set_ylabel("cost")
    fig.tight_layout()
    fmt = "jpeg" if kind == "JPEG" else kind.lower()
    atomic_write(Path(path), lambda fh: fig.savefig(fh, format=fmt, dpi=100))
    plt.close(fig)


def save_log_curves(records: list[dict], path) -> None:
    """Plot a training log's records (:func:`stackae.log.read_log`): every stage's
    cost, and its validation score where it has one (orange, on the right axis)."""
    curves: dict[str, list] = {}
    validation: dict[str, list] = {}
    iterations: dict[str, list] = {}
    for record in records:
        stage = str(record["stage"])
        curves.setdefault(stage, []).append(float(record["cost"]))
        validation.setdefault(stage, []).append(record.get("validation"))
        iterations.setdefault(stage, []).append(int(record["iteration"]))
    save_learning_curves(curves, path, validation, iterations)
