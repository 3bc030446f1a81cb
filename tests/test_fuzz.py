"""Hostile input: random, truncated and mutated bytes fed to every reader. Each call
returns valid data or raises the library's documented error, never another exception,
and never allocates much more than the file size justifies."""

from __future__ import annotations

import gzip
import io
import tracemalloc
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sklearn.exceptions import ConvergenceWarning

from conftest import write_idx
from stackae import DataError, ModelFileError, StackedAutoencoderClassifier
from stackae.datasets import load_csv, load_idx, load_npz
from stackae.io import load_model, save_model

FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
# Budget: deflate expands at most ~1032x; plain files are read once plus one copy.
SLACK = 1 << 20


def _mutate(blob: bytes, data) -> bytes:
    kind = data.draw(st.sampled_from(["truncate", "flip", "insert", "random"]))
    if kind == "truncate":
        return blob[: data.draw(st.integers(0, max(len(blob) - 1, 0)))]
    if kind == "random":
        return data.draw(st.binary(max_size=400))
    out = bytearray(blob)
    for _ in range(data.draw(st.integers(1, 8))):
        at = data.draw(st.integers(0, len(out) - 1))
        if kind == "flip":
            out[at] = data.draw(st.integers(0, 255))
        else:
            out[at:at] = data.draw(st.binary(min_size=1, max_size=8))
    return bytes(out)


def _bounded(call, size: int, factor: int):
    tracemalloc.start()
    try:
        return call()
    finally:
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        assert peak <= factor * size + SLACK, f"allocated {peak} bytes for a {size}-byte file"


def _idx_bytes(compress: bool) -> bytes:
    buffer = io.BytesIO()
    array = np.arange(3 * 5 * 4, dtype=np.uint8).reshape(3, 5, 4)
    header = bytes([0, 0, 0x08, 3]) + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    buffer.write(header + array.tobytes())
    return gzip.compress(buffer.getvalue()) if compress else buffer.getvalue()


@FUZZ
@given(data=st.data(), compress=st.booleans())
def test_idx_reader(tmp_path, data, compress):
    blob = _mutate(_idx_bytes(compress), data)
    path = tmp_path / "f.idx"
    path.write_bytes(blob)
    try:
        array = _bounded(lambda: load_idx(path), len(blob), 1100 if blob[:2] == b"\x1f\x8b" else 3)
    except DataError:
        return
    assert isinstance(array, np.ndarray) and array.ndim >= 1


def _npz_bytes() -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, X=np.random.default_rng(0).random((6, 3)), y=np.arange(6) % 2)
    return buffer.getvalue()


@FUZZ
@given(data=st.data())
def test_npz_reader(tmp_path, data):
    blob = _mutate(_npz_bytes(), data)
    path = tmp_path / "f.npz"
    path.write_bytes(blob)
    try:
        X, y = _bounded(lambda: load_npz(path), len(blob), 1100)
    except DataError:
        return
    assert X.ndim == 2 and (y is None or y.shape[0] == X.shape[0])


@FUZZ
@given(text=st.text(alphabet='0123456789.,-e \nabc"', max_size=300))
def test_csv_reader(tmp_path, text):
    path = tmp_path / "f.csv"
    path.write_text(text)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # the guessed label column is said, not an error
            X, y = _bounded(lambda: load_csv(path), len(text.encode()), 64)
    except DataError:
        return
    assert X.ndim == 2 and y.shape == (X.shape[0],)


@pytest.fixture(scope="module")
def model_bytes(tmp_path_factory):
    rng = np.random.default_rng(0)
    clf = StackedAutoencoderClassifier((3,), pretrain_max_iter=2, output_max_iter=2, finetune_max_iter=2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(rng.random((20, 4)), np.arange(20) % 2)
    path = tmp_path_factory.mktemp("model") / "m.npz"
    save_model(clf, path)
    return path.read_bytes()


@FUZZ
@given(data=st.data())
def test_model_loader(tmp_path, model_bytes, data):
    blob = _mutate(model_bytes, data)
    path = tmp_path / "m.npz"
    path.write_bytes(blob)
    try:
        model = _bounded(lambda: load_model(path), len(blob), 1100)
    except ModelFileError:
        return
    assert model.predict(np.zeros((1, 4))).shape == (1,)


def test_fuzz_helpers_produce_valid_files_unmutated(tmp_path, model_bytes):
    (tmp_path / "a.idx").write_bytes(_idx_bytes(True))
    assert load_idx(tmp_path / "a.idx").shape == (3, 5, 4)
    (tmp_path / "a.npz").write_bytes(_npz_bytes())
    assert load_npz(tmp_path / "a.npz")[0].shape == (6, 3)
    (tmp_path / "m.npz").write_bytes(model_bytes)
    assert load_model(tmp_path / "m.npz").n_features_in_ == 4
    write_idx(tmp_path / "b.idx", np.zeros((2, 2)))


@FUZZ
@given(
    rows=st.integers(6, 40),
    width=st.integers(1, 6),
    n_classes=st.integers(2, 4),
    where=st.sampled_from(["first", "last", "none"]),
    seed=st.integers(0, 2**16),
)
def test_the_label_column_of_a_wider_csv_is_never_a_feature(tmp_path, rows, width, n_classes, where, seed):
    """Whatever a CSV's pixels, predict's reading of a file one column wider than the
    model takes the labels from where they are, or refuses: it never keeps the labels as
    a feature nor drops a feature silently."""
    from stackae.datasets import load_csv
    from stackae.exceptions import DataError

    rng = np.random.default_rng(seed)
    features = rng.integers(0, 256, (rows, width))
    labels = rng.integers(0, n_classes, rows)
    table = {"first": np.column_stack([labels, features]), "last": np.column_stack([features, labels])}
    table["none"] = np.column_stack([features, rng.integers(0, 256, rows)])  # one column too many, no labels
    path = tmp_path / f"t{seed}-{where}.csv"
    np.savetxt(path, table[where], fmt="%d", delimiter=",")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # both ends could be labels: the first, said
        try:
            X, _ = load_csv(path, require_labels=False, n_features=width, classes=np.arange(n_classes))
        except DataError as exc:
            assert "say which column holds them with --label-column" in str(exc)
            return
    assert X.shape == (rows, width)
    if where == "first" or where == "last":
        kept_labels = np.array_equal(X[:, 0], labels) or np.array_equal(X[:, -1], labels)
        both_ends = np.isin(features[:, 0 if where == "last" else -1], np.arange(n_classes)).all()
        assert not kept_labels or both_ends  # a pixel column that looks exactly like labels is the one doubt
