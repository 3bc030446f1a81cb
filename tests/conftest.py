"""Shared fixtures: small MNIST-format folders written on the fly, the real MNIST path."""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

import numpy as np
import pytest

MNIST_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "mnist"


def write_idx(path: Path, array: np.ndarray, *, compress: bool = False) -> Path:
    """Write ``array`` (uint8) as an IDX file, optionally gzipped."""
    array = np.ascontiguousarray(array, dtype=np.uint8)
    header = struct.pack(">BBBB", 0, 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    data = header + array.tobytes()
    if compress:
        path.write_bytes(gzip.compress(data))
    else:
        path.write_bytes(data)
    return path


def make_mnist_folder(folder: Path, *, n_train=60, n_test=20, side=6, compress=True, seed=0) -> Path:
    """A tiny MNIST-layout folder: images whose class is the row holding bright pixels."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    suffix = ".gz" if compress else ""
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        labels = np.arange(n) % 3
        images = rng.integers(0, 40, (n, side, side))
        for i, label in enumerate(labels):
            images[i, 2 * label : 2 * label + 2, :] = 250
        write_idx(folder / f"{prefix}-images-idx3-ubyte{suffix}", images, compress=compress)
        write_idx(folder / f"{prefix}-labels-idx1-ubyte{suffix}", labels, compress=compress)
    return folder


@pytest.fixture
def mnist_like(tmp_path):
    return make_mnist_folder(tmp_path / "mnist")


@pytest.fixture(autouse=True, scope="session")
def _block_size_cache(tmp_path_factory):
    """The block-size measurements of this test session in a folder of its own, not the
    user's cache (made at most once a dtype, where a test's data is large enough)."""
    import os

    previous = os.environ.get("STACKAE_CACHE")
    os.environ["STACKAE_CACHE"] = str(tmp_path_factory.mktemp("stackae-cache"))
    yield
    if previous is None:
        os.environ.pop("STACKAE_CACHE", None)
    else:
        os.environ["STACKAE_CACHE"] = previous
