"""Data: the embedded 8x8 digits, MNIST-format IDX files, and users' own files.

Every loader returns ``X`` of shape ``(n_samples, n_features)`` and, where there are
labels, ``y`` of shape ``(n_samples,)``. Image pixels are scaled to [0, 1] (MNIST:
divided by 255, as UFLDL does; the 8x8 digits: divided by 16).
"""

from __future__ import annotations

import gzip
import os
import warnings
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ._download import DownloadError, download, sha256_of
from ._safenpz import MAX_DEFLATE_RATIO, read_npz
from .exceptions import DataError

__all__ = [
    "Dataset",
    "load_idx",
    "load_idx_pair",
    "load_mnist",
    "load_digits_split",
    "load_npz",
    "load_csv",
    "load_images",
    "load_dataset",
    "load_samples",
    "open_rows",
    "is_large_source",
    "fetch",
    "data_home",
    "RemoteDataset",
    "RemoteFile",
    "REMOTE_DATASETS",
]

# IDX type codes -> big-endian NumPy dtypes (http://yann.lecun.com/exdb/mnist/).
_IDX_TYPES: dict[int, np.dtype] = {
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

    X_train: np.ndarray | RowWindow  # a window of a memory map or Zarr array, for data larger than memory
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    image_shape: tuple[int, ...] | None
    name: str
    input_scale: float = 1.0  # raw values were divided by this


def _open_checked(path) -> tuple[Path, bool]:
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"No such file: '{path}'.")
    if path.is_dir():
        raise DataError(f"'{path}' is a folder, expected a file.")
    with open(path, "rb") as fh:
        compressed = fh.read(2) == b"\x1f\x8b"
    return path, compressed


def load_idx(path) -> np.ndarray:
    """Read an IDX file (MNIST format), gzipped or not.

    The header is checked against the file's size before any array is made (for a
    gzipped file, against the most that deflate can expand it to), so a damaged or
    foreign file gets a clear error instead of a huge allocation.

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
        Wrong magic number, unknown type code, a damaged gzip stream, or a data length
        that does not match the header.
    """
    path, compressed = _open_checked(path)
    size = path.stat().st_size
    opener = gzip.open if compressed else open
    try:
        with opener(path, "rb") as fh:
            head = fh.read(4)
            if len(head) < 4 or head[0] != 0 or head[1] != 0 or head[2] not in _IDX_TYPES:
                raise DataError(
                    f"'{path}' is not an IDX file: wrong magic number {head.hex() or 'empty file'} "
                    "(expected 0000 then a type code and the number of dimensions)."
                )
            dtype, ndim = _IDX_TYPES[head[2]], head[3]
            if ndim == 0:
                raise DataError(f"'{path}' is not a valid IDX file: it declares 0 dimensions.")
            dims = fh.read(4 * ndim)
            if len(dims) < 4 * ndim:
                raise DataError(f"'{path}' is truncated: its header is cut off.")
            shape = tuple(int(d) for d in np.frombuffer(dims, dtype=">u4"))
            expected = int(np.prod(shape, dtype=object)) * dtype.itemsize
            header = 4 + 4 * ndim
            budget = size * MAX_DEFLATE_RATIO if compressed else size - header
            if expected > budget:
                raise DataError(
                    f"'{path}' is truncated: the header declares shape {shape} "
                    f"({expected} bytes of data) but the file holds "
                    f"{'far less' if compressed else size - header}."
                )
            data = fh.read(expected + 1)
    except (OSError, EOFError, zlib.error) as exc:
        raise DataError(f"'{path}' is a damaged gzip file ({exc}); download it again.") from None
    if len(data) != expected:
        what = "truncated" if len(data) < expected else "longer than its header says"
        actual = len(data) if len(data) < expected else "more"
        raise DataError(
            f"'{path}' is {what}: the header declares shape {shape} "
            f"({expected} bytes of data) but the file holds {actual}."
        )
    return np.frombuffer(data, dtype=dtype).reshape(shape).astype(dtype.newbyteorder("="))


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
    dtype = np.dtype(dtype).type  # "float32", np.float32 and np.dtype("float32") alike
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
    folder = _named(os.fspath(folder)) or Path(folder)
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
    return Dataset(X_train, y_train, X_test, y_test, shape, os.fspath(folder), 255.0)


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
    return Dataset(X_train, y_train, X_test, y_test, (8, 8), "digits", 16.0)


# ------------------------------------------------------------------ users' own files
_LABEL_NAMES = ("label", "labels", "y", "target", "class")


def load_npz(path):
    """``X`` (and ``y`` if present) from an ``.npz`` file; object arrays are refused.

    Returns
    -------
    X : ndarray of shape (n_samples, n_features)
    y : ndarray of shape (n_samples,) or None
    """
    arrays = read_npz(path, lambda why: DataError(f"'{path}': {why}."))
    if "X" not in arrays:
        raise DataError(f"'{path}' holds no array named 'X' (it holds {', '.join(arrays) or 'nothing'}).")
    X, y = arrays["X"], arrays.get("y")
    if X.ndim == 0:
        raise DataError(f"'{path}': 'X' must be an array of samples, got a single value.")
    if y is not None and y.ndim != 1:
        raise DataError(f"'{path}': 'y' must be a vector of labels, got shape {y.shape}.")
    if X.ndim == 1:
        X = X.reshape(-1, 1)
    X = X.reshape(X.shape[0], -1) if X.ndim > 2 else X
    if not np.issubdtype(X.dtype, np.number):
        raise DataError(f"'{path}': 'X' must be numeric, got dtype {X.dtype}.")
    if y is not None and y.shape[0] != X.shape[0]:
        raise DataError(f"'{path}' holds {X.shape[0]} samples in 'X' but {y.shape[0]} labels in 'y'.")
    return X, y


def _is_header(first, second, numeric) -> bool:
    """Whether a CSV's ``first`` row names its columns rather than holding a sample: it
    has a non-numeric cell in a column whose cell below is numeric (a feature's name
    over a feature's value). A first row whose only non-numeric cells stand over other
    non-numeric cells (a label column of strings) is data, and is kept. With one row,
    any non-numeric cell makes it a header (features are numbers)."""
    if second is None or len(second) != len(first):
        return not all(numeric(c) for c in first)
    return any(not numeric(a) and numeric(b) for a, b in zip(first, second))


def load_csv(path, label_column=None, *, require_labels: bool = True, n_features: int | None = None, classes=None):
    """Samples from a ``.csv`` with an optional header row.

    The label column is ``label_column`` (a header name or a 0-based index); without
    it, the one column named label/labels/y/target/class (two such names are refused as
    ambiguous), else the first column, with a warning that says so (a guess). With
    ``require_labels=False`` and no named label column, every column is a feature,
    except where ``n_features`` (what a model takes) is one less than the columns: then
    the label column is the first or the last, whichever looks like labels (integers or
    names, at least two of them, fewer than half the rows, all among ``classes`` where a
    classifier gives them; both: the first, with a warning), and a file where neither
    does is refused.

    Returns
    -------
    X : ndarray of float64, shape (n_samples, n_features)
    y : ndarray of shape (n_samples,) or None
    """
    import csv

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"No such file: '{path}'.")
    # utf-8-sig: a byte-order mark (as some spreadsheets write) is not part of the first name
    with open(path, newline="", encoding="utf-8-sig", errors="replace") as fh:
        rows = [(i, row) for i, row in enumerate(csv.reader(fh), start=1) if row]
    if not rows:
        raise DataError(f"'{path}' is empty.")

    def numeric(cell):
        try:
            float(cell)
            return True
        except ValueError:
            return False

    header, guessed = None, False
    if _is_header(rows[0][1], rows[1][1] if len(rows) > 1 else None, numeric):
        header = [c.strip() for c in rows[0][1]]
        rows = rows[1:]
    if not rows:
        raise DataError(f"'{path}' has a header but no samples.")
    width = len(header) if header else len(rows[0][1])
    column = None
    if label_column is not None:
        if isinstance(label_column, str) and not label_column.lstrip("-").isdigit():
            if not header or label_column not in header:
                raise DataError(f"'{path}' has no column named '{label_column}'.")
            column = header.index(label_column)
        else:
            column = int(label_column)
            if not -width <= column < width:
                raise DataError(f"'{path}' has {width} columns; label column {column} does not exist.")
            column %= width
    elif header and any(h.lower() in _LABEL_NAMES for h in header):
        named = [i for i, h in enumerate(header) if h.lower() in _LABEL_NAMES]
        if len(named) > 1:  # x,y,z,label: y is as likely a coordinate as the labels
            names = " and ".join(repr(header[i]) for i in named)
            raise DataError(
                f"'{path}' has columns named {names}, each of which could hold the labels; say which with "
                "--label-column (label_column=)."
            )
        column = named[0]
    elif n_features is not None and width == n_features + 1:
        known = None if classes is None else {_label_text(c) for c in classes}
        candidates = [c for c in (0, width - 1) if _looks_like_labels([row[c] for _, row in rows], numeric, known)]
        if not candidates:
            raise DataError(
                f"'{path}' has {width} columns for a model of {n_features} features, and neither end column looks "
                "like labels; say which column holds them with --label-column."
            )
        column = candidates[0]  # both: the first, as MNIST's CSVs have it, and said
        guessed = len(candidates) > 1
    elif require_labels:
        column = 0
        guessed = True
    X = np.empty((len(rows), width - (column is not None)), dtype=np.float64)
    labels = []
    for r, (line, row) in enumerate(rows):
        if len(row) != width:
            raise DataError(f"'{path}' line {line}: expected {width} fields, got {len(row)}.")
        features = row if column is None else row[:column] + row[column + 1 :]
        for j, cell in enumerate(features):
            try:
                X[r, j] = float(cell)
            except ValueError:
                what = "a missing value" if not cell.strip() else f"non-numeric value {cell.strip()!r}"
                raise DataError(f"'{path}' line {line}: {what} in a feature column.") from None
        if column is not None:
            labels.append(row[column].strip())
    y = None
    if column is not None:
        y = np.array(labels)
        values = [float(v) if numeric(v) else None for v in labels]
        if all(v is not None and v.is_integer() and abs(v) < 2**53 for v in values):  # "3", "3.0", "3e0"
            y = np.array(values).astype(np.int64)
    if guessed:  # said once the file has been read whole (a malformed file is its error alone)
        import warnings

        warnings.warn(
            f"'{path}' names no label column, so its first column is taken as the labels "
            f"({np.unique(np.asarray(y)).size} "
            "distinct values"
            + ("; its last could be them too" if n_features is not None else "")
            + "); give --label-column (label_column) to take another.",
            stacklevel=2,
        )
    return X, y


def _label_text(value) -> str:
    """A label as a CSV cell would spell it (``3`` for the class 3 or 3.0)."""
    if isinstance(value, float | np.floating) and float(value).is_integer():
        return str(int(value))
    return str(value.item() if isinstance(value, np.generic) else value)


def _looks_like_labels(cells, numeric, known=None) -> bool:
    """Whether a column's cells look like class labels: integers or names, at least two
    distinct values, fewer distinct values than half the rows, and all of them among
    ``known`` (a classifier's classes, as text) where given."""
    values = {c.strip() for c in cells}
    if not 2 <= len(values) < max(3, len(cells) / 2):
        return False
    if not all(not numeric(v) or float(v).is_integer() for v in values):
        return False
    spelled = {_label_text(float(v)) if numeric(v) else v for v in values}
    return known is None or spelled <= known


def guess_input_scale(X: np.ndarray) -> float:
    """255 for integer pixel values in 0..255 (with some above 1), else 1."""
    if X.size and np.issubdtype(X.dtype, np.number):
        top = float(np.max(X))
        if 1.0 < top <= 255.0 and float(np.min(X)) >= 0.0 and np.all(np.mod(X, 1) == 0):
            return 255.0
    return 1.0


def resolve_input_scale(X, scale="auto", raw_scale=None) -> float:
    """What ``X`` is divided by, by the one rule every input follows (training, test
    data, ``evaluate``, ``predict``): a number is used as it is; ``"auto"`` divides raw
    integer pixels (:func:`guess_input_scale`) by ``raw_scale`` (the training data's
    scale, where known) or 255, and leaves values already scaled as they are, so data
    scaled once is never scaled again."""
    if scale != "auto":
        return float(scale)
    if guess_input_scale(X) == 1.0:
        return 1.0
    return float(raw_scale) if raw_scale and float(raw_scale) != 1.0 else 255.0


#: Pixels of the largest image ``load_images`` decodes (a 4096 x 4096 photograph): the
#: images are resized to a few hundred pixels, so a larger one is refused before it is
#: decoded, not after it has taken the memory
MAX_IMAGE_PIXELS = 4096 * 4096


def load_images(paths, image_shape: tuple[int, int], *, invert: bool = False) -> np.ndarray:
    """Grey-level images (PNG, JPEG, ...) resized to ``image_shape`` (height, width) and
    scaled to [0, 1], one flattened image per row. ``invert`` turns dark-on-light
    drawings into MNIST's light-on-dark."""
    from PIL import Image, UnidentifiedImageError

    rows = []
    for p in paths:
        p = Path(p)
        if not p.is_file():
            raise FileNotFoundError(f"No such file: '{p}'.")
        try:
            with warnings.catch_warnings():
                # Pillow warns of images over its pixel limit and refuses those over twice it;
                # a picture of a digit far over it is a decompression bomb, not an input
                warnings.simplefilter("error", Image.DecompressionBombWarning)
                with Image.open(p) as im:
                    width, height = im.size
                    if width * height > MAX_IMAGE_PIXELS:
                        raise Image.DecompressionBombError(f"{width}x{height} pixels")
                    grey = im.convert("L").resize((image_shape[1], image_shape[0]), Image.Resampling.LANCZOS)
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            raise DataError(
                f"'{p}' is too large an image to read (over {MAX_IMAGE_PIXELS:,} pixels, a decompression bomb "
                "or a picture to shrink first)."
            ) from None
        except (UnidentifiedImageError, OSError) as exc:
            raise DataError(f"'{p}' is not an image stackae can read ({exc}).") from None
        pixels = np.asarray(grey, dtype=np.float64) / 255.0
        rows.append((1.0 - pixels if invert else pixels).ravel())
    return np.vstack(rows)


# --------------------------------------------------------- data larger than memory
def is_large_source(spec) -> bool:
    """``spec`` names rows that are read where they lie: ``X.npy,y.npy`` or a Zarr store."""
    spec = os.fspath(spec)
    parts = spec.split(",")
    if len(parts) == 2 and all(p.endswith(".npy") for p in parts):
        return True
    return spec.rstrip("/").endswith(".zarr")


def open_rows(path):
    """A ``.npy`` file as a read-only memory map, or a Zarr array: never read whole.

    Their values are used as they are: float32 or float64, already scaled.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"No such file or folder: '{path}'.")
    if path.suffix == ".npy":
        try:
            X = np.load(path, mmap_mode="r", allow_pickle=False)
        except ValueError as exc:
            raise DataError(f"'{path}' is not a .npy file stackae can map ({exc}).") from None
        return X
    try:
        import zarr
    except ImportError:
        raise DataError(f"'{path}' is a Zarr store, which needs zarr: pip install 'stackae[zarr]'.") from None
    try:
        return zarr.open(str(path), mode="r")
    except Exception as exc:  # zarr raises several kinds for a foreign folder
        raise DataError(f"'{path}' is not a Zarr store stackae can read ({exc}).") from None


class RowWindow:
    """Rows ``lo:hi`` of a Zarr array, read on demand (Zarr has no views): what a
    training set cut from a store is, without reading it."""

    def __init__(self, array, lo: int, hi: int):
        self.array, self.lo, self.hi = array, int(lo), int(hi)
        self.dtype = array.dtype
        self.shape = (self.hi - self.lo, *array.shape[1:])
        self.ndim = array.ndim
        self.chunks = array.chunks

    def _rows(self, key):
        if isinstance(key, slice):
            start, stop, step = key.indices(self.shape[0])
            return slice(self.lo + start, self.lo + stop, step)
        return np.asarray(key) + self.lo

    def __getitem__(self, key):
        if isinstance(key, tuple):
            return self.array[(self._rows(key[0]),) + tuple(key[1:])]
        return self.array[self._rows(key)]

    def get_orthogonal_selection(self, selection):
        rows, *rest = selection
        return self.array.get_orthogonal_selection((self._rows(rows), *rest))

    def __len__(self):
        return self.shape[0]


def _large_samples(spec, labels: bool = True):
    """``(X, y)`` of a large source (see :func:`is_large_source`), checked, not read
    (``labels=False``: ``y`` may be absent, and is None then)."""
    spec = os.fspath(spec)
    if spec.rstrip("/").endswith(".zarr"):
        store = open_rows(spec)
        if not hasattr(store, "keys") or "X" not in store or ("y" not in store and labels):
            raise DataError(f"'{spec}' must be a Zarr group holding arrays 'X' and 'y'.")
        X = store["X"]
        y = np.asarray(store["y"][:]) if "y" in store else None
    else:
        x_path, y_path = spec.split(",")
        X = open_rows(x_path)
        y = np.load(y_path, allow_pickle=False) if y_path else None
    if X.ndim != 2:
        raise DataError(f"'{spec}': X must be 2-dimensional (n_samples, n_features), got shape {X.shape}.")
    if X.dtype not in (np.float32, np.float64):
        raise DataError(
            f"'{spec}': X holds {X.dtype} values; a file used in place must hold float32 or float64 values, "
            "already scaled (convert it once, e.g. X.astype(np.float32) / 255)."
        )
    if y is not None and y.shape != (X.shape[0],):
        raise DataError(f"'{spec}' holds {X.shape[0]} samples in X but labels of shape {y.shape}.")
    return X, y


# ------------------------------------------------------------- one name for any source
def _square_shape(n_features: int):
    side = int(round(np.sqrt(n_features)))
    return (side, side) if side * side == n_features else None


def load_samples(
    spec,
    *,
    label_column=None,
    scale="auto",
    dtype=np.float64,
    split: str = "test",
    data_home=None,
    progress=None,
    raw_scale=None,
    labels: bool = True,
):
    """Labelled samples from any source the command line accepts, for evaluation.

    ``spec``: ``"digits"`` (its held-out split), an MNIST-format folder or a data set's
    name (its ``split`` files, ``"test"`` or ``"train"``; see :func:`fetch`),
    ``"IMAGES_IDX,LABELS_IDX"``, or an ``.npz``/``.csv`` file (all its samples), scaled
    by :func:`resolve_input_scale` (``raw_scale``: the training data's scale).

    ``labels=False``: samples whose labels, if any, are not wanted (unlabeled training
    rows): ``y`` may be None, an ``.npz`` needs no ``y``, and a lone ``X.npy`` is
    memory-mapped as it is.

    Returns
    -------
    X, y, image_shape, input_scale
    """
    spec = os.fspath(spec)
    spec = os.fspath(_named(spec, data_home, progress) or spec)
    if not labels and spec.endswith(".npy") and "," not in spec:
        X = _large_samples(f"{spec},", labels=False)[0]
        return X, None, _square_shape(X.shape[1]), 1.0
    if is_large_source(spec):
        X, y = _large_samples(spec, labels)
        return X, y, _square_shape(X.shape[1]), 1.0
    if spec == "digits":
        d = load_digits_split(dtype=dtype)
        return (
            (d.X_test, d.y_test) + (d.image_shape, d.input_scale)
            if split == "test"
            else (d.X_train, d.y_train, d.image_shape, d.input_scale)
        )
    if "," in spec:
        images, labels = spec.split(",", 1)
        X, y, shape = load_idx_pair(images, labels, dtype)
        return X, y, shape, 255.0
    path = Path(spec)
    if path.is_dir():
        d = load_mnist(path, dtype=dtype)
        return (
            (d.X_test, d.y_test, d.image_shape, 255.0)
            if split == "test"
            else (d.X_train, d.y_train, d.image_shape, 255.0)
        )
    suffix = path.suffix.lower()
    if suffix == ".npz":
        X, y = load_npz(path)
        if y is None and labels:
            raise DataError(f"'{path}' holds no labels: add an array named 'y'.")
    elif suffix == ".csv":
        X, y = load_csv(path, label_column)
    elif not path.exists():
        raise FileNotFoundError(f"No such file or folder: '{path}'.")
    else:
        raise DataError(
            f"'{path}': unknown data format; give 'digits', a folder of MNIST-format IDX files, "
            "'IMAGES_IDX,LABELS_IDX', or an .npz (arrays X and y) or .csv file."
        )
    factor = resolve_input_scale(X, scale, raw_scale)
    dtype = np.dtype(dtype).type
    X = X.astype(dtype)
    if factor != 1.0:
        X /= dtype(factor)
    if not np.all(np.isfinite(X)):
        raise DataError(f"'{path}' holds NaN or infinite values; remove or impute them first.")
    return X, y, _square_shape(X.shape[1]), factor


def load_dataset(
    spec,
    test_spec=None,
    *,
    label_column=None,
    scale="auto",
    test_size=0.2,
    random_state=0,
    dtype=np.float64,
    data_home=None,
    progress=None,
) -> Dataset:
    """A train/test pair from any source (see :func:`load_samples`); a data set's name
    (``"mnist"``, ``"fashion-mnist"``, ``"kmnist"``) is fetched into ``data_home`` (see
    :func:`fetch`, which tells ``progress``) unless it is there already.

    Sources without their own test part (``.npz``, ``.csv``, an IDX pair) are split,
    stratified, keeping ``test_size`` for testing, unless ``test_spec`` names the test
    samples. Files used in place (``X.npy,y.npy``, a Zarr store) are never copied: their
    test part is their last ``test_size`` of rows.
    """
    spec = os.fspath(spec)
    named = _named(spec, data_home, progress)
    if named is not None:
        data = load_mnist(named, dtype=dtype)
        data.name = spec  # the name the user gave, not the cache folder
        return data
    if is_large_source(spec) and test_spec is None:
        X, y = _large_samples(spec)
        cut = X.shape[0] - max(1, int(round(test_size * X.shape[0])))
        if cut < 1:
            raise DataError(f"'{spec}' holds {X.shape[0]} samples: too few to hold out a test part.")
        X_test = np.asarray(X[cut:])
        X_train = X[:cut] if isinstance(X, np.ndarray) else RowWindow(X, 0, cut)
        return Dataset(X_train, y[:cut], X_test, y[cut:], _square_shape(X.shape[1]), spec, 1.0)
    if spec == "digits" and test_spec is None:
        return load_digits_split(dtype=dtype)
    if Path(spec).is_dir() and test_spec is None:
        return load_mnist(spec, dtype=dtype)
    X, y, shape, factor = load_samples(spec, label_column=label_column, scale=scale, dtype=dtype, split="train")
    if test_spec is not None:
        # the test samples by the same rule: raw pixels divided as the training ones
        # were, values already scaled left as they are
        X_test, y_test, test_shape, _ = load_samples(
            test_spec, label_column=label_column, scale=scale, raw_scale=factor, dtype=dtype, split="test"
        )
        if X_test.shape[1] != X.shape[1]:
            raise DataError(f"Training samples have {X.shape[1]} features but test samples have {X_test.shape[1]}.")
        return Dataset(X, y, X_test, y_test, shape, spec, factor)
    from sklearn.model_selection import train_test_split

    _, counts = np.unique(y, return_counts=True)
    stratify = y if counts.min() >= 2 else None
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=test_size, random_state=random_state, stratify=stratify
    )
    return Dataset(X_train, y_train, X_test, y_test, shape, spec, factor)


# --------------------------------------------------------------- data by name
@dataclass(frozen=True)
class RemoteFile:
    """One published file: its name, the SHA-256 of the file as published and, where
    known, of its decompressed contents (which identifies a copy that was compressed
    again, as Debian's ``dataset-fashion-mnist`` package is)."""

    name: str
    sha256: str
    content_sha256: str | None = None


@dataclass(frozen=True)
class RemoteDataset:
    """A data set in MNIST's IDX layout, fetched by name from its publisher's addresses
    (``mirrors``: folder URLs, tried in turn)."""

    name: str
    mirrors: tuple
    files: tuple
    homepage: str = ""


def _idx_files(*checksums):
    """The four MNIST-layout files with their checksums (a tuple each, as RemoteFile takes them)."""
    names = ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz")
    names += ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")
    return tuple(RemoteFile(name, *sums) for name, sums in zip(names, checksums))


#: The data sets ``--data NAME`` fetches. SHA-256 of the published files: MNIST's as in
#: ``../shared/data/mnist/SHA256SUMS``, KMNIST's as its publisher lists them,
#: Fashion-MNIST's as published (by Zalando Research's addresses); the contents' SHA-256
#: computed from the shared MNIST files and from Debian's dataset-fashion-mnist package.
REMOTE_DATASETS = {
    "mnist": RemoteDataset(
        "mnist",
        (
            "https://ossci-datasets.s3.amazonaws.com/mnist/",
            "https://storage.googleapis.com/cvdf-datasets/mnist/",
            "http://yann.lecun.com/exdb/mnist/",
        ),
        _idx_files(
            ("440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
             "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db"),
            ("3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
             "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5"),
            ("8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
             "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7"),
            ("f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
             "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2"),
        ),
        "http://yann.lecun.com/exdb/mnist/",
    ),
    "fashion-mnist": RemoteDataset(
        "fashion-mnist",
        (
            "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
            "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/",
        ),
        _idx_files(
            ("3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84",
             "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888"),
            ("a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845",
             "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9"),
            ("346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073",
             "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b"),
            ("67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5",
             "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34"),
        ),
        "https://github.com/zalandoresearch/fashion-mnist",
    ),
    "kmnist": RemoteDataset(
        "kmnist",
        ("https://codh.rois.ac.jp/kmnist/dataset/kmnist/", "http://codh.rois.ac.jp/kmnist/dataset/kmnist/"),
        _idx_files(
            ("51467d22d8cc72929e2a028a0428f2086b092bb31cfb79c69cc0a90ce135fde4",),
            ("e38f9ebcd0f3ebcdec7fc8eabdcdaef93bb0df8ea12bee65224341c8183d8e17",),
            ("edd7a857845ad6bb1d0ba43fe7e794d164fe2dce499a1694695a792adfac43c5",),
            ("20bb9a0ef54c7db3efc55a92eef5582c109615df22683c380526788f98e42a1c",),
        ),
        "http://codh.rois.ac.jp/kmnist/",
    ),
}  # fmt: skip


def data_home(folder=None) -> Path:
    """Where fetched data sets live: ``folder``, else ``$STACKAE_DATA``, else the user
    cache folder of the platform (``$XDG_CACHE_HOME`` or ``~/.cache`` on Linux,
    ``~/Library/Caches`` on macOS, ``%LOCALAPPDATA%`` on Windows) + ``/stackae``."""
    if folder is not None:
        return Path(folder).expanduser()
    env = os.environ.get("STACKAE_DATA")
    if env:
        return Path(env).expanduser()
    import sys

    if sys.platform == "darwin":
        base = Path.home() / "Library" / "Caches"
    elif os.name == "nt":
        base = Path(os.environ.get("LOCALAPPDATA") or Path.home() / "AppData" / "Local")
    else:
        base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "stackae"


def _file_check(remote: RemoteFile):
    """``check(path)`` for :func:`stackae._download.download`: None when the file is the
    published one (or the same contents compressed again), else why not."""

    def check(path) -> str | None:
        digest = sha256_of(path)
        if digest == remote.sha256:
            return None
        if remote.content_sha256 is not None:
            try:
                if sha256_of(path, gunzip=True) == remote.content_sha256:
                    return None
            except (OSError, EOFError, zlib.error):
                pass
        return f"SHA-256 {digest[:12]}..., expected {remote.sha256[:12]}..."

    return check


def fetch(name, *, data_home=None, mirrors=None, progress=None) -> Path:
    """The folder holding data set ``name`` (``"mnist"``, ``"fashion-mnist"``,
    ``"kmnist"``, or a :class:`RemoteDataset`), downloading the files it lacks.

    Files already in ``<data home>/<name>/`` (see :func:`data_home`), placed there by an
    earlier call or by hand, are checked against the published SHA-256 and used without
    any network access. A missing file is downloaded from each of ``mirrors`` (default:
    the data set's own) in turn into a temporary file, and kept only when its SHA-256
    matches; ``progress(url, done_bytes, total_bytes)`` is told as it arrives.

    Raises
    ------
    DataError
        A file in the folder does not match its checksum, or no mirror gave it.
    """

    dataset = REMOTE_DATASETS.get(name) if isinstance(name, str) else name
    if dataset is None:
        raise ValueError(f"Unknown data set {name!r}; the data sets fetched by name are {', '.join(REMOTE_DATASETS)}.")
    folder = globals()["data_home"](data_home) / dataset.name
    folder.mkdir(parents=True, exist_ok=True)
    for remote in dataset.files:
        target = folder / remote.name
        check = _file_check(remote)
        if target.exists():
            why = check(target)
            if why is not None:
                raise DataError(
                    f"'{target}' is not the published {remote.name} of {dataset.name} ({why}); delete it to "
                    "download it again."
                )
            continue
        urls = [base.rstrip("/") + "/" + remote.name for base in (mirrors or dataset.mirrors)]
        try:
            download(urls, target, check, progress=progress)
        except DownloadError as exc:
            names = ", ".join(f.name for f in dataset.files)
            raise DownloadError(
                f"Could not download {remote.name} of {dataset.name} from any mirror: {exc}. Without internet "
                f"access, copy the four files ({names}) into '{folder}' by hand (they are checked against their "
                f"published SHA-256), or give --data the folder that holds them."
            ) from None
    return folder


def _named(spec: str, data_home=None, progress=None):
    """The folder of a data set named ``spec`` (fetched if need be), or None when
    ``spec`` is not such a name or is an existing path."""
    if spec in REMOTE_DATASETS and not Path(spec).exists():
        return fetch(spec, data_home=data_home, progress=progress)
    return None
