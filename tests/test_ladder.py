"""The Ladder network: its objective against central differences (every cost term, batch
normalization and the noise included), the batch that must stay one block, unlabeled
rows kept out of the supervised cost, the estimator (its messages, checkpoints, model
files, the folded network), and unlabeled rows that measurably help on the digits."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning

from stackae import LadderNetworkClassifier, StackedAutoencoderClassifier
from stackae import _checkpoint as checkpoint_module
from stackae._checkpoint import CheckpointDir, run_folders
from stackae._rows import rows_of
from stackae._rows._numpy import NumpyRows
from stackae.datasets import load_digits_split
from stackae.io import load_model, save_model
from stackae.ladder import (
    LadderSpec,
    ladder_cost_grad,
    ladder_init,
    ladder_layout,
    ladder_scores,
)

SIZES = (6, 5, 4, 3)


@pytest.fixture(scope="module")
def digits():
    return load_digits_split(dtype=np.float64)


def _batch(m=12, n_labeled=5, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.random((m, SIZES[0]))
    y = np.r_[rng.integers(0, SIZES[-1], n_labeled), -np.ones(m - n_labeled, int)]
    return X, y


def _theta(seed=1):
    theta = ladder_init(SIZES, np.random.RandomState(seed))
    return theta + 0.1 * np.random.default_rng(seed).standard_normal(theta.size)  # away from the symmetric start


def _numeric(f, theta, eps=1e-6):
    grad = np.zeros_like(theta)
    for i in range(theta.size):
        step = np.zeros_like(theta)
        step[i] = eps
        grad[i] = (f(theta + step) - f(theta - step)) / (2 * eps)
    return grad


@pytest.mark.parametrize(
    "denoising",
    [
        (1.0, 0.5, 0.2, 0.3),  # every layer's denoising cost
        (0.0, 0.0, 0.0, 2.0),  # the Gamma-model: the top's only
        (0.0, 0.0, 0.0, 0.0),  # the baseline: the supervised cost only
        (1.0, 0.0, 0.3, 0.0),  # costs on some layers, the decoder through the others
        (0.0, 3.0, 0.0, 0.0),
    ],
)
def test_gradient_matches_central_differences(denoising):
    X, y = _batch()
    spec = LadderSpec(SIZES, denoising, 0.3, 5, 7)
    rows = rows_of(X, y)
    theta = _theta()
    cost, grad = ladder_cost_grad(rows, theta, spec)
    numeric = _numeric(lambda t: float(ladder_cost_grad(rows, t, spec)[0]), theta)
    assert np.linalg.norm(numeric - grad) / np.linalg.norm(numeric + grad) < 1e-8
    # each piece of theta on its own (a zero-gradient piece must be exactly zero)
    offset = 0
    for name, shape in ladder_layout(SIZES):
        size = int(np.prod(shape))
        np.testing.assert_allclose(
            grad[offset : offset + size], numeric[offset : offset + size], atol=1e-6, err_msg=name
        )
        offset += size


def test_the_noise_is_fixed_by_the_seed_and_keyed_by_row():
    X, y = _batch()
    theta = _theta()
    rows = rows_of(X, y)
    a = ladder_cost_grad(rows, theta, LadderSpec(SIZES, (1, 1, 1, 1), 0.3, 5, 7))
    b = ladder_cost_grad(rows, theta, LadderSpec(SIZES, (1, 1, 1, 1), 0.3, 5, 7))
    c = ladder_cost_grad(rows, theta, LadderSpec(SIZES, (1, 1, 1, 1), 0.3, 5, 8))
    assert a[0] == b[0] and np.array_equal(a[1], b[1])
    assert a[0] != c[0]
    clean = ladder_cost_grad(rows, theta, LadderSpec(SIZES, (1, 1, 1, 1), 0.0, 5, 7))
    assert clean[0] != a[0]


def test_a_batch_split_into_blocks_is_refused():
    X, y = _batch()
    spec = LadderSpec(SIZES, (1, 1, 1, 1), 0.3, 5, 7)
    split = NumpyRows(X, y, block_rows=4, n_threads=1)
    with pytest.raises(ValueError) as info:
        ladder_cost_grad(split, _theta(), spec)
    assert str(info.value) == (
        "The Ladder network's batch normalization couples the rows of a batch, which must be one block: a batch "
        "of 12 rows reached it as a block of 4 rows at row 0. Use a smaller batch_size, or rows in memory or on "
        "one device."
    )
    whole = NumpyRows(X, y, block_rows=64, n_threads=2)  # fewer rows than a block a thread: one block
    assert whole.blocks() == [(0, 12)]


def test_the_labeled_rows_cost_ignores_which_unlabeled_rows_share_the_batch():
    X, y = _batch()
    theta = _theta()
    spec = LadderSpec(SIZES, (0.0, 0.0, 0.0, 0.0), 0.3, 5, 7)  # the supervised cost alone
    other = X.copy()
    other[5:] = np.random.default_rng(9).random((7, SIZES[0]))  # other unlabeled rows
    a = ladder_cost_grad(rows_of(X, y), theta, spec)
    b = ladder_cost_grad(rows_of(other, y), theta, spec)
    assert a[0] == b[0] and np.array_equal(a[1], b[1])


def test_unlabeled_rows_labels_never_reach_the_supervised_cost():
    X, y = _batch()
    theta = _theta()
    spec = LadderSpec(SIZES, (1.0, 0.5, 0.2, 0.3), 0.3, 5, 7)
    labeled_as_zero = y.copy()
    labeled_as_zero[5:] = 0  # were the unlabeled rows' labels read, the cost would change
    a = ladder_cost_grad(rows_of(X, y), theta, spec)
    b = ladder_cost_grad(rows_of(X, labeled_as_zero), theta, spec)
    assert a[0] == b[0] and np.array_equal(a[1], b[1])


def test_torch_rows_give_numpy_s_cost_and_gradient():
    torch = pytest.importorskip("torch", reason="PyTorch is not installed (pip install torch==2.13.0)")
    X, y = _batch()
    theta = _theta()
    spec = LadderSpec(SIZES, (1.0, 0.5, 0.2, 0.3), 0.0, 5, 7)  # no noise: the generators differ
    cost, grad = ladder_cost_grad(rows_of(X, y), theta, spec)
    t_cost, t_grad = ladder_cost_grad(rows_of(torch.from_numpy(X), torch.from_numpy(y)), torch.from_numpy(theta), spec)
    assert float(t_cost) == pytest.approx(cost, rel=1e-12)
    np.testing.assert_allclose(t_grad.numpy(), grad, rtol=1e-10, atol=1e-12)


# ------------------------------------------------------------------ the estimator
SMALL = dict(hidden_layer_sizes=(32, 16), denoising_weights=(100.0, 1.0, 0.1, 0.1), max_iter=6, batch_size=50)


def _fit(model, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return model.fit(*args, **kwargs)


def _few_labels(y, per_class, seed):
    rng = np.random.RandomState(seed)
    kept = np.concatenate([rng.choice(np.flatnonzero(y == c), per_class, replace=False) for c in np.unique(y)])
    marked = np.full_like(y, -1)
    marked[kept] = y[kept]
    return np.sort(kept), marked


def test_unlabeled_rows_measurably_help_on_the_digits(digits):
    # 50 labels; the same number of steps with and without the 1,207 unlabeled rows
    kept, marked = _few_labels(digits.y_train, 5, 2)
    params = dict(hidden_layer_sizes=(100, 50), denoising_weights=(100.0, 1.0, 0.1, 0.1), batch_size=50)
    alone = _fit(
        LadderNetworkClassifier(**params, max_iter=520, random_state=2), digits.X_train[kept], digits.y_train[kept]
    )
    semi = _fit(LadderNetworkClassifier(**params, max_iter=20, random_state=2), digits.X_train, marked)
    assert semi.n_iter_ == 20 and alone.n_iter_ == 520
    alone_score, semi_score = alone.score(digits.X_test, digits.y_test), semi.score(digits.X_test, digits.y_test)
    assert semi_score >= 0.86  # measured 0.874
    assert semi_score >= alone_score + 0.03  # measured 0.828 without them


def test_x_unlabeled_is_the_same_as_rows_marked_unlabeled(digits):
    kept, marked = _few_labels(digits.y_train, 5, 0)
    rest = np.setdiff1d(np.arange(digits.y_train.size), kept)
    X = np.concatenate([digits.X_train[kept], digits.X_train[rest]])
    y = np.concatenate([digits.y_train[kept], np.full(rest.size, -1)])
    a = _fit(LadderNetworkClassifier(**SMALL, random_state=0), X, y)
    b = _fit(LadderNetworkClassifier(**SMALL, random_state=0), digits.X_train[kept], digits.y_train[kept],
             X_unlabeled=digits.X_train[rest])  # fmt: skip
    for Wa, Wb in zip(a.coefs_ + a.intercepts_, b.coefs_ + b.intercepts_):
        np.testing.assert_array_equal(Wa, Wb)


def test_the_folded_network_is_the_clean_pass_with_the_training_rows_statistics(digits):
    model = _fit(LadderNetworkClassifier(**SMALL, random_state=0), digits.X_train, digits.y_train)
    assert [W.shape for W in model.coefs_] == [(64, 32), (32, 16), (16, 10)]
    # the clean pass normalised by these same rows' statistics is what the fold computes
    theta = model.ladder_theta_
    S = ladder_scores(digits.X_train, theta, (64, 32, 16, 10))
    np.testing.assert_allclose(model.decision_function(digits.X_train), S, rtol=1e-7, atol=1e-7)
    assert model.transform(digits.X_test).shape == (digits.X_test.shape[0], 16)
    assert model.score(digits.X_test, digits.y_test) >= 0.75  # 6 epochs (measured 0.79; chance is 0.1)


def test_trains_on_torch_tensors(digits):
    torch = pytest.importorskip("torch", reason="PyTorch is not installed (pip install torch==2.13.0)")
    kept, marked = _few_labels(digits.y_train, 10, 0)
    X = torch.from_numpy(digits.X_train.astype(np.float32))
    model = _fit(LadderNetworkClassifier(**dict(SMALL, max_iter=10), random_state=0), X, torch.from_numpy(marked))
    assert model.coefs_[0].dtype == np.float32
    assert model.score(digits.X_test, digits.y_test) >= 0.8  # measured 0.85 (100 labels)


def test_a_model_file_round_trip(tmp_path, digits):
    model = _fit(LadderNetworkClassifier(**SMALL, random_state=0), digits.X_train, digits.y_train)
    save_model(model, tmp_path / "ladder.npz")
    loaded = load_model(tmp_path / "ladder.npz")
    assert type(loaded) is LadderNetworkClassifier and loaded.get_params() == model.get_params()
    np.testing.assert_array_equal(loaded.predict_proba(digits.X_test), model.predict_proba(digits.X_test))
    assert loaded.n_iter_ == model.n_iter_ == SMALL["max_iter"]


def test_resuming_from_every_checkpoint_gives_the_uninterrupted_result(tmp_path, digits, monkeypatch):
    kept, marked = _few_labels(digits.y_train, 10, 0)
    params = dict(SMALL, random_state=0, checkpoint_every=2)
    reference = _fit(LadderNetworkClassifier(**params), digits.X_train, marked)
    monkeypatch.setattr(checkpoint_module, "KEEP", 1000)
    full = tmp_path / "full"
    _fit(LadderNetworkClassifier(**params, checkpoint_dir=full), digits.X_train, marked)
    (run,) = run_folders(full)
    files = CheckpointDir(run).files()
    assert len(files) == 4  # epochs 2, 4, 6, and the finished network
    for k in range(1, len(files) + 1):
        trial = tmp_path / f"trial{k}"
        trial.mkdir()
        for f in files[:k]:
            (trial / f.name).write_bytes(f.read_bytes())
        resumed = _fit(LadderNetworkClassifier(**params, checkpoint_dir=trial), digits.X_train, marked)
        for Wa, Wb in zip(resumed.coefs_ + resumed.intercepts_, reference.coefs_ + reference.intercepts_):
            np.testing.assert_array_equal(Wa, Wb)
        assert resumed.loss_curve_ == reference.loss_curve_


def test_early_stopping_validates_on_labeled_rows_only(digits):
    kept, marked = _few_labels(digits.y_train, 20, 0)
    model = _fit(
        LadderNetworkClassifier(**dict(SMALL, max_iter=8), early_stopping=True, n_iter_no_change=3, random_state=0),
        digits.X_train,
        marked,
    )
    # 10% of the 200 labeled rows: scores are multiples of 1/20
    assert all(abs(s * 20 - round(s * 20)) < 1e-9 for s in model.validation_scores_)
    assert model.best_validation_score_ == max(model.validation_scores_)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        (
            dict(denoising_weights=(1.0, 2.0)),
            "'denoising_weights' must be 4 numbers >= 0 (the input, each of the 2 hidden layers, the output), "
            "got (1.0, 2.0).",
        ),
        (
            dict(denoising_weights=(1.0, -2.0, 0.0, 0.0)),
            "'denoising_weights' must be 4 numbers >= 0 (the input, each of the 2 hidden layers, the output), "
            "got (1.0, -2.0, 0.0, 0.0).",
        ),
        (dict(decay_start=1.0), "'decay_start' must be a number in [0.0, 1.0), got 1.0."),
        (dict(noise_std=-0.1), "'noise_std' must be a number >= 0.0, got -0.1."),
    ],
)
def test_bad_parameters_are_refused(digits, params, message):
    with pytest.raises(ValueError) as info:
        LadderNetworkClassifier(**{**SMALL, **params}).fit(digits.X_train[:60], digits.y_train[:60])
    assert str(info.value) == message


def test_no_labeled_row_and_one_class_are_clear_errors(digits):
    with pytest.raises(ValueError) as info:
        LadderNetworkClassifier(**SMALL).fit(digits.X_train[:60], np.full(60, -1))
    assert str(info.value) == (
        "LadderNetworkClassifier got no labeled row: every label is -1, which marks an unlabeled row "
        "(unlabeled_label). Label some rows (at least one of each of two classes); the unlabeled ones are used "
        "where the model can learn from them."
    )
    with pytest.raises(ValueError) as info:
        StackedAutoencoderClassifier((8,)).fit(digits.X_train[:60], np.where(np.arange(60) % 2, 1, -1))
    assert str(info.value) == (
        "StackedAutoencoderClassifier needs samples of at least 2 classes, got 1 class (1) among the labeled rows; "
        "label rows of another class (the label -1 marks an unlabeled row; set unlabeled_label=None to make it a "
        "class)."
    )


def test_dask_rows_are_refused(digits):
    da = pytest.importorskip("dask.array")
    with pytest.raises(ValueError) as info:
        LadderNetworkClassifier(**SMALL).fit(da.from_array(digits.X_train), digits.y_train)
    assert str(info.value) == (
        "LadderNetworkClassifier trains in one process: batch normalization couples the rows of a batch, which a "
        "Dask array's chunks would split. Pass X as a NumPy array, a memory map or a Zarr array (X.compute(), or "
        "dask.array.to_zarr)."
    )


def test_a_preset_belongs_to_its_estimator():
    assert LadderNetworkClassifier.from_preset("ladder-100").denoising_weights[1] == 10.0
    assert LadderNetworkClassifier.from_preset("ladder").denoising_weights[1] == 1.0
    with pytest.raises(ValueError) as info:
        StackedAutoencoderClassifier.from_preset("ladder-100")
    assert str(info.value) == (
        "The preset 'ladder-100' is a LadderNetworkClassifier's; use LadderNetworkClassifier.from_preset('ladder-100')."
    )
