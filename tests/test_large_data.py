"""Data larger than memory: .npy memory maps and Zarr stores are read block by block (and
their pages handed back), give the in-memory results, and reach the command line,
on a cluster too."""

from __future__ import annotations

import re
import subprocess
import sys
import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning

from stackae import StackedAutoencoderClassifier
from stackae.datasets import load_dataset, load_digits_split

PARAMS = dict(
    hidden_layer_sizes=(32,),
    alpha=1e-4,
    pretrain_max_iter=20,
    output_max_iter=20,
    finetune_max_iter=20,
    random_state=0,
)


@pytest.fixture(scope="module")
def digits():
    return load_digits_split(dtype=np.float32)


@pytest.fixture(scope="module")
def npy_pair(tmp_path_factory, digits):
    folder = tmp_path_factory.mktemp("npy")
    np.save(folder / "X.npy", digits.X_train)
    np.save(folder / "y.npy", digits.y_train)
    return folder / "X.npy", folder / "y.npy"


def _fit(X, y, **extra):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return StackedAutoencoderClassifier(**PARAMS, **extra).fit(X, y)


@pytest.mark.parametrize("solver", ["lbfgs", "adam"])
def test_memory_mapped_training_matches_in_memory_training(npy_pair, digits, solver):
    extra = {} if solver == "lbfgs" else dict(solver="adam", learning_rate=1e-2, batch_size=64, noise="masking")
    X_map = np.load(npy_pair[0], mmap_mode="r")
    assert isinstance(X_map, np.memmap)
    mapped = _fit(X_map, digits.y_train, **extra)
    in_memory = _fit(digits.X_train, digits.y_train, **extra)
    for a, b in zip(mapped.coefs_ + mapped.intercepts_, in_memory.coefs_ + in_memory.intercepts_):
        np.testing.assert_array_equal(a, b)
    assert mapped.loss_curve_ == in_memory.loss_curve_


def test_zarr_store_training(tmp_path, digits):
    zarr = pytest.importorskip("zarr")
    store = zarr.open_group(str(tmp_path / "d.zarr"), mode="w")
    store.create_array("X", shape=digits.X_train.shape, chunks=(300, 64), dtype="float32")[:] = digits.X_train
    store.create_array("y", shape=digits.y_train.shape, dtype="int64")[:] = digits.y_train
    data = load_dataset(str(tmp_path / "d.zarr"), test_size=0.2)
    assert not isinstance(data.X_train, np.ndarray)  # read from the store on demand
    assert data.X_train.shape[0] + data.X_test.shape[0] == digits.X_train.shape[0]
    clf = _fit(data.X_train, data.y_train)
    assert clf.score(data.X_test, data.y_test) >= 0.9


def test_large_files_must_hold_scaled_floats(tmp_path):
    np.save(tmp_path / "X.npy", np.zeros((5, 3), dtype=np.uint8))
    np.save(tmp_path / "y.npy", np.arange(5))
    with pytest.raises(
        ValueError, match=r"X holds uint8 values; a file used in place must hold float32 or float64 values"
    ):
        load_dataset(f"{tmp_path}/X.npy,{tmp_path}/y.npy")


def test_cli_trains_from_npy_files_on_a_local_cluster(npy_pair, digits):
    """`stackae train --data X.npy,y.npy --workers 2`: the workers read the file."""
    test = npy_pair[0].parent / "test"
    test.mkdir(exist_ok=True)
    np.save(test / "X.npy", load_digits_split(dtype=np.float32).X_test)
    np.save(test / "y.npy", load_digits_split().y_test)
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "stackae.cli",
            "train",
            "--data",
            f"{npy_pair[0]},{npy_pair[1]}",
            "--test-data",
            f"{test / 'X.npy'},{test / 'y.npy'}",
            "--hidden",
            "32",
            "--alpha",
            "1e-4",
            "--pretrain-max-iter",
            "15",
            "--output-max-iter",
            "15",
            "--finetune-max-iter",
            "15",
            "--workers",
            "2",
            "--quiet",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    assert re.search(r"cluster: tcp://127\.0\.0\.1:\d+, 2 workers", proc.stdout)
    assert "float32" in proc.stdout
    after = float(re.search(r"test accuracy after fine-tuning:  ([\d.]+)%", proc.stdout).group(1))
    assert after >= 90.0
