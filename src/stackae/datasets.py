"""Data: the embedded 8x8 digits, MNIST-format IDX files, and users' own files.

Every loader returns ``X`` of shape ``(n_samples, n_features)`` and, where there are
labels, ``y`` of shape ``(n_samples,)``. Image pixels are scaled to [0, 1] (MNIST:
divided by 255, as UFLDL does; the 8x8 digits: divided by 16).
"""

from __future__ import annotations

import gzip
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .exceptions import DataError

__all__ = ["Dataset", "load_idx", "load_mnist", "load_digits_split"]

# IDX type codes -> big-endian NumPy dtypes (http://yann.lecun.com/exdb/mnist/).
_IDX_TYPES = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}


@dataclass
class Dataset:
    """A train/test pair of samples and labels, with the shape of one image if known."""

    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    image_shape: tuple[int, ...] | None
    name: str


def _read_bytes(path) -> bytes:
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"No such file: '{path}'.")
    if path.is_dir():
        raise DataError(f"'{path}' is a folder, expected a file.")
    with open(path, "rb") as fh:
        head = fh.read(2)
    if head == b"\x1f\x8b":
        try:
            with gzip.open(path, "rb") as fh:
                return fh.read()
        except (OSError, EOFError, gzip.BadGzipFile) as exc:
            raise DataError(f"'{path}' is a damaged gzip file ({exc}); download it again.") from None
    return path.read_bytes()


def load_idx(path) -> np.ndarray:
    """Read an IDX file (MNIST format), gzipped or not.

    The header is checked against the data length before any array is made, so a
    damaged or foreign file gets a clear error instead of a huge allocation.

    Parameters
    ----------
    path : str or path-like

    Returns
    -------
    ndarray of the stored shape and type (native byte order).

    Raises
    ------
    FileNotFoundError
        The file does not exist.
    DataError
        Wrong magic number, unknown type code, or a data length that does not match
        the header.
    """
    data = _read_bytes(path)
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] not in _IDX_TYPES:
        raise DataError(
            f"'{path}' is not an IDX file: wrong magic number "
            f"{data[:4].hex() if len(data) >= 4 else data.hex() or 'empty file'} "
            "(expected 0000 then a type code and the number of dimensions)."
        )
    dtype, ndim = _IDX_TYPES[data[2]], data[3]
    if ndim == 0:
        raise DataError(f"'{path}' is not a valid IDX file: it declares 0 dimensions.")
    header = 4 + 4 * ndim
    if len(data) < header:
        raise DataError(f"'{path}' is truncated: its header is cut off.")
    shape = tuple(int(d) for d in np.frombuffer(data, dtype=">u4", count=ndim, offset=4))
    expected = int(np.prod(shape, dtype=object)) * dtype.itemsize
    actual = len(data) - header
    if actual != expected:
        what = "truncated" if actual < expected else "longer than its header says"
        raise DataError(
            f"'{path}' is {what}: the header declares shape {shape} "
            f"({expected} bytes of data) but the file holds {actual}."
        )
    array = np.frombuffer(data, dtype=dtype, offset=header).reshape(shape)
    return array.astype(dtype.newbyteorder("="))


def _find(folder: Path, stem: str) -> Path:
    for name in (stem, stem + ".gz"):
        if (folder / name).exists():
            return folder / name
    # Some copies use '.' instead of '-' before 'idx' (train-images.idx3-ubyte).
    alt = stem.replace("-idx", ".idx")
    for name in (alt, alt + ".gz"):
        if (folder / name).exists():
            return folder / name
    raise FileNotFoundError(
        f"No '{stem}' or '{stem}.gz' in '{folder}'; an MNIST-format folder holds "
        "train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte and "
        "t10k-labels-idx1-ubyte (gzipped or not)."
    )


def load_idx_pair(images_path, labels_path, dtype=np.float64):
    """Images (scaled to [0, 1], one flattened image per row) and labels from two IDX files."""
    images = load_idx(images_path)
    labels = load_idx(labels_path)
    if images.ndim < 2:
        raise DataError(f"'{images_path}' holds {images.ndim}-dimensional data, expected images.")
    if labels.ndim != 1:
        raise DataError(f"'{labels_path}' holds data of shape {labels.shape}, expected a vector of labels.")
    if images.shape[0] != labels.shape[0]:
        raise DataError(
            f"'{images_path}' holds {images.shape[0]} images but '{labels_path}' holds "
            f"{labels.shape[0]} labels; they must be the same length."
        )
    scale = 255.0 if images.dtype == np.uint8 else 1.0
    X = images.reshape(images.shape[0], -1).astype(dtype)
    X /= dtype(scale)
    return X, labels.astype(np.int64), tuple(images.shape[1:])


def load_mnist(folder, dtype=np.float64) -> Dataset:
    """MNIST (or Fashion-MNIST, or any set in the same layout) from a folder of IDX files.

    Parameters
    ----------
    folder : path-like
        Holds ``train-images-idx3-ubyte``, ``train-labels-idx1-ubyte``,
        ``t10k-images-idx3-ubyte``, ``t10k-labels-idx1-ubyte``, each optionally ``.gz``.
    dtype : float32 or float64
        Of the returned ``X``; pixels are divided by 255.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"No such folder: '{folder}'.")
    X_train, y_train, shape = load_idx_pair(
        _find(folder, "train-images-idx3-ubyte"), _find(folder, "train-labels-idx1-ubyte"), dtype
    )
    X_test, y_test, test_shape = load_idx_pair(
        _find(folder, "t10k-images-idx3-ubyte"), _find(folder, "t10k-labels-idx1-ubyte"), dtype
    )
    if shape != test_shape:
        raise DataError(f"Training images are {shape} but test images are {test_shape} in '{folder}'.")
    return Dataset(X_train, y_train, X_test, y_test, shape, os.fspath(folder))


def load_digits_split(dtype=np.float64, test_size: float = 0.3, random_state: int = 0) -> Dataset:
    """The embedded default: scikit-learn's 1797 8x8 digits scaled to [0, 1] (pixels / 16),
    with a stratified held-out test split (30% by default, fixed by ``random_state``)."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    X = (digits.data / 16.0).astype(dtype)
    X_train, X_test, y_train, y_test = train_test_split(
        X, digits.target, test_size=test_size, random_state=random_state, stratify=digits.target
    )
    return Dataset(X_train, y_train, X_test, y_test, (8, 8), "digits")
