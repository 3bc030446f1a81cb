"""Readers: IDX files (MNIST format), the MNIST folder layout, the embedded digits."""

from __future__ import annotations

import gzip

import numpy as np
import pytest

from conftest import MNIST_DIR, make_mnist_folder, write_idx
from stackae import DataError
from stackae.datasets import load_digits_split, load_idx, load_mnist, load_npz


@pytest.mark.parametrize("compress", [False, True])
def test_idx_round_trip(tmp_path, compress):
    array = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    path = write_idx(tmp_path / "a.idx", array, compress=compress)
    np.testing.assert_array_equal(load_idx(path), array)


def test_idx_wrong_magic(tmp_path):
    path = tmp_path / "bad.idx"
    path.write_bytes(b"\x12\x34\x08\x01" + b"\x00" * 8)
    with pytest.raises(DataError, match=r"^'.*bad\.idx' is not an IDX file: wrong magic number 12340801"):
        load_idx(path)


def test_idx_truncated(tmp_path):
    path = write_idx(tmp_path / "t.idx", np.zeros((5, 4), dtype=np.uint8))
    path.write_bytes(path.read_bytes()[:-3])
    with pytest.raises(
        DataError,
        match=r"^'.*t\.idx' is truncated: the header declares shape \(5, 4\) \(20 bytes of data\) "
        r"but the file holds 17\.$",
    ):
        load_idx(path)


def test_idx_huge_header_is_refused_before_allocating(tmp_path):
    path = tmp_path / "huge.idx"
    path.write_bytes(bytes([0, 0, 0x08, 3]) + (60000).to_bytes(4, "big") * 3 + b"\x00" * 10)
    with pytest.raises(DataError, match=r"is truncated: the header declares shape \(60000, 60000, 60000\)"):
        load_idx(path)


def test_idx_damaged_gzip(tmp_path):
    path = tmp_path / "d.gz"
    path.write_bytes(gzip.compress(b"\x00\x00\x08\x01" + b"\x00\x00\x00\x02ab")[:-6])
    with pytest.raises(DataError, match=r"is a damaged gzip file"):
        load_idx(path)


def test_idx_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"^No such file: '.*nothing\.idx'\.$"):
        load_idx(tmp_path / "nothing.idx")


@pytest.mark.parametrize("compress", [False, True])
def test_mnist_folder(tmp_path, compress):
    folder = make_mnist_folder(tmp_path / "m", compress=compress)
    data = load_mnist(folder, dtype="float32")  # as the README writes it
    assert data.X_train.shape == (60, 36) and data.X_test.shape == (20, 36)
    assert data.X_train.dtype == np.float32
    assert data.image_shape == (6, 6)
    assert 0.0 <= data.X_train.min() and data.X_train.max() <= 1.0
    np.testing.assert_array_equal(data.y_train, np.arange(60) % 3)


def test_mnist_images_and_labels_of_different_lengths(tmp_path):
    folder = make_mnist_folder(tmp_path / "m")
    write_idx(folder / "t10k-labels-idx1-ubyte.gz", np.zeros(7), compress=True)
    with pytest.raises(DataError, match=r"holds 20 images but '.*t10k-labels-idx1-ubyte\.gz' holds 7 labels"):
        load_mnist(folder)


def test_mnist_folder_without_files(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"^No 'train-images-idx3-ubyte' or 'train-images-idx3-ubyte\.gz'"):
        load_mnist(tmp_path)


def test_embedded_digits():
    data = load_digits_split()
    assert data.X_train.shape[1] == 64 and data.image_shape == (8, 8)
    assert data.X_train.shape[0] + data.X_test.shape[0] == 1797
    assert data.X_train.max() == 1.0 and data.X_train.min() == 0.0


@pytest.mark.skipif(not MNIST_DIR.is_dir(), reason="the MNIST files are not in ../shared/data/mnist")
def test_real_mnist_files():
    data = load_mnist(MNIST_DIR, dtype=np.float32)
    assert data.X_train.shape == (60000, 784) and data.X_test.shape == (10000, 784)
    assert np.bincount(data.y_test).tolist()[:3] == [980, 1135, 1032]


@pytest.mark.parametrize(
    ("arrays", "message"),
    [
        ({"X": np.float64(3.0), "y": np.zeros(1)}, r"'X' must be an array of samples, got a single value\.$"),
        ({"X": np.zeros((2, 2)), "y": np.float64(1.0)}, r"'y' must be a vector of labels, got shape \(\)\.$"),
        ({"X": np.zeros((2, 2)), "y": np.zeros((2, 1))}, r"'y' must be a vector of labels, got shape \(2, 1\)\.$"),
    ],
)
def test_npz_with_arrays_of_the_wrong_rank(tmp_path, arrays, message):
    np.savez(tmp_path / "a.npz", **arrays)
    with pytest.raises(DataError, match=r"^'.*a\.npz': " + message):
        load_npz(tmp_path / "a.npz")


def test_csv_header_detection_keeps_a_first_row_of_data(tmp_path):
    from stackae.datasets import load_csv

    rng = np.random.default_rng(0)
    lines = [",".join([rng.choice(["cat", "dog"]), *map(str, rng.random(3).round(3))]) for _ in range(400)]
    (tmp_path / "plain.csv").write_text("\n".join(lines) + "\n")
    with pytest.warns(UserWarning, match=r"names no label column, so its first column is taken as the labels \(2 "):
        X, y = load_csv(tmp_path / "plain.csv")
    assert X.shape == (400, 3) and y[0] == lines[0].split(",")[0]  # the first row is a sample, not a header
    (tmp_path / "named.csv").write_text("animal,a,b,c\n" + "\n".join(lines) + "\n")
    X, y = load_csv(tmp_path / "named.csv", "animal")
    assert X.shape == (400, 3)


def test_csv_with_a_byte_order_mark_finds_its_named_label_column(tmp_path):
    from stackae.datasets import load_csv

    # the label column second: unrecognised, the first column would be taken for it
    (tmp_path / "bom.csv").write_bytes("\ufeffp1,label,p2\n0.5,1,0.25\n0.1,0,0.2\n".encode())
    X, y = load_csv(tmp_path / "bom.csv", "p1")
    assert X.tolist() == [[1.0, 0.25], [0.0, 0.2]]  # the BOM is not part of the first name
    X, y = load_csv(tmp_path / "bom.csv")
    assert y.tolist() == [1, 0] and X.tolist() == [[0.5, 0.25], [0.1, 0.2]]
