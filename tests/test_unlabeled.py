"""Unlabeled rows in the greedy stack and on the command line: pretraining learns from
them, the supervised stages never see them, every way of passing them agrees, and the
command line's --unlabeled-data and --labels-per-class."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning

from stackae import StackedAutoencoderClassifier
from stackae.cli import main
from stackae.datasets import load_digits_split
from stackae.estimators._data import RowChain
from stackae.estimators._softmax import labeled_rows

FAST = dict(hidden_layer_sizes=(32,), alpha=1e-4, sparsity_weight=0.1, output_max_iter=60, finetune_max_iter=60)


@pytest.fixture(scope="module")
def digits():
    return load_digits_split(dtype=np.float64)


@pytest.fixture(scope="module")
def few(digits):
    rng = np.random.RandomState(0)
    y = digits.y_train
    kept = np.sort(np.concatenate([rng.choice(np.flatnonzero(y == c), 5, replace=False) for c in range(10)]))
    marked = np.full_like(y, -1)
    marked[kept] = y[kept]
    return kept, marked


def _fit(model, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return model.fit(*args, **kwargs)


def _network(model):
    return model.coefs_ + model.intercepts_


def test_unlabeled_rows_never_reach_the_supervised_stages(digits, few):
    kept, marked = few
    # no pretraining: were the unlabeled rows in the softmax or fine-tuning, the fit would differ
    params = dict(FAST, pretrain_max_iter=0, random_state=0)
    alone = _fit(StackedAutoencoderClassifier(**params), digits.X_train[kept], digits.y_train[kept])
    semi = _fit(StackedAutoencoderClassifier(**params), digits.X_train, marked)
    for a, b in zip(_network(alone), _network(semi)):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)
    np.testing.assert_array_equal(semi.classes_, np.arange(10))


def test_pretraining_learns_from_the_unlabeled_rows(digits, few):
    kept, marked = few
    params = dict(FAST, pretrain_max_iter=100, random_state=0)
    alone = _fit(StackedAutoencoderClassifier(**params), digits.X_train[kept], digits.y_train[kept])
    semi = _fit(StackedAutoencoderClassifier(**params), digits.X_train, marked)
    assert not np.allclose(alone.pretrained_coefs_[0], semi.pretrained_coefs_[0])
    # 50 labels: the features of 1,257 rows against those of the 50 (measured 0.831 and 0.800)
    assert semi.score(digits.X_test, digits.y_test) > alone.score(digits.X_test, digits.y_test)


def test_every_way_of_passing_unlabeled_rows_agrees(digits, few, tmp_path):
    kept, marked = few
    rest = np.setdiff1d(np.arange(marked.size), kept)
    params = dict(FAST, pretrain_max_iter=40, random_state=0)
    # the labeled rows first, then the unlabeled: as X_unlabeled lays them out
    X = np.concatenate([digits.X_train[kept], digits.X_train[rest]])
    y = np.concatenate([digits.y_train[kept], np.full(rest.size, -1)])
    marked_model = _fit(StackedAutoencoderClassifier(**params), X, y)
    separate = _fit(StackedAutoencoderClassifier(**params), digits.X_train[kept], digits.y_train[kept],
                    X_unlabeled=digits.X_train[rest])  # fmt: skip
    for a, b in zip(_network(marked_model), _network(separate)):
        np.testing.assert_array_equal(a, b)
    # a memory map too large to concatenate: read beside X, block by block
    path = tmp_path / "unlabeled.npy"
    np.save(path, digits.X_train[rest])
    mapped = _fit(StackedAutoencoderClassifier(**params), digits.X_train[kept], digits.y_train[kept],
                  X_unlabeled=np.load(path, mmap_mode="r"))  # fmt: skip
    for a, b in zip(_network(mapped), _network(separate)):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-8)  # other blocks: other rounding
    # a Dask array: pretraining runs on its chunks
    da = pytest.importorskip("dask.array")
    chunked = _fit(StackedAutoencoderClassifier(**params), digits.X_train[kept], digits.y_train[kept],
                   X_unlabeled=da.from_array(digits.X_train[rest], chunks=(400, -1)))  # fmt: skip
    for a, b in zip(_network(chunked), _network(separate)):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


def test_a_row_chain_reads_its_parts_as_one():
    a, b = np.arange(12.0).reshape(4, 3), 100 + np.arange(9.0).reshape(3, 3)
    chain = RowChain([a, b])
    whole = np.concatenate([a, b])
    assert chain.shape == (7, 3) and len(chain) == 7
    for key in (slice(0, 7), slice(2, 6), slice(4, 7), slice(5, 5), slice(1, 7, 2)):
        np.testing.assert_array_equal(chain[key], whole[key])
    rows = np.array([6, 0, 4, 3])
    np.testing.assert_array_equal(chain.get_orthogonal_selection((rows, slice(None))), whole[rows])


@pytest.mark.parametrize(
    ("y", "marker", "expected"),
    [
        (np.array([0, -1, 2, -1]), -1, [True, False, True, False]),
        (np.array([0.0, -1.0, 2.0]), -1, [True, False, True]),
        (np.array(["a", -1, "b"], dtype=object), -1, [True, False, True]),
        (np.array(["a", "?", "b"]), "?", [True, False, True]),
        (np.array(["a", "-1", "b"]), -1, None),  # a string is not the integer mark
        (np.array([0, -1, 1]), None, None),  # unlabeled_label=None: -1 is a class
        (np.array([0, 1, 2]), -1, None),
    ],
)
def test_which_labels_mark_an_unlabeled_row(y, marker, expected):
    mask = labeled_rows(y, marker)
    assert (mask is None and expected is None) or mask.tolist() == expected


def test_minus_one_is_a_class_without_unlabeled_label(digits):
    y = np.where(digits.y_train[:200] % 2 == 0, -1, 1)
    model = _fit(
        StackedAutoencoderClassifier(**FAST, pretrain_max_iter=10, unlabeled_label=None), digits.X_train[:200], y
    )
    assert model.classes_.tolist() == [-1, 1]


def test_x_unlabeled_must_have_the_same_features(digits):
    with pytest.raises(ValueError) as info:
        StackedAutoencoderClassifier(**FAST).fit(digits.X_train, digits.y_train, X_unlabeled=np.zeros((5, 3)))
    assert str(info.value) == (
        "X_unlabeled has 3 features per row, but X has 64; both must describe the same features."
    )


# ----------------------------------------------------------------- the command line
def _train(capsys, *args):
    code = main(["train", "--quiet", "--hidden", "32", "--pretrain-max-iter", "20", "--finetune-max-iter", "30", *args])
    return code, capsys.readouterr()


def test_labels_per_class_keeps_balanced_labels_and_uses_the_rest_unlabeled(capsys):
    code, out = _train(capsys, "--labels-per-class", "5")
    assert code == 0
    assert (
        "labels: 50 kept (5 of each of 10 classes, drawn by the seed 0); the other 1207 training rows used unlabeled"
    ) in out.out
    assert "test accuracy after fine-tuning:" in out.out


def test_unlabeled_data_from_a_file_without_labels(tmp_path, capsys):
    digits = load_digits_split()
    path = tmp_path / "more.npz"
    np.savez(path, X=digits.X_train[:300] * 16)  # raw 0..16 values: scaled as the training data is
    code, out = _train(capsys, "--unlabeled-data", str(path), "--labels-per-class", "5")
    assert code == 0
    assert "the other 1507 training rows used unlabeled" in out.out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--task", "regress", "--labels-per-class", "5"],
            "Error: --labels-per-class applies to --task classify or ladder, not --task regress.",
        ),
        (["--labels-per-class", "500"], "Error: --labels-per-class 500: the class 0 has only 124 training samples."),
        (["--labels-per-class", "0"], "Error: '--labels-per-class' must be a positive integer, got 0."),
    ],
)
def test_bad_unlabeled_options_are_one_line_errors(capsys, args, message):
    code, out = _train(capsys, *args)
    assert code == 1
    assert out.err.strip().splitlines() == [message]
