"""The golden check: fitted-weight fingerprints of about twenty configurations.

A refactoring that must not change a single result records the fingerprints before it
and compares after it, on the same machine (the fingerprints differ between CPUs,
BLAS builds and thread counts, so a recording is only ever compared with one made
where it was made)::

    python tools/golden.py record out/golden.json     # before the change
    python tools/golden.py compare out/golden.json    # after: exit 1 on any difference

Each configuration fits one estimator on the embedded 8x8 digits (or a slice of them)
with a fixed seed and a few iterations, and its fingerprint is the SHA-256 of every
fitted array (``coefs_``, ``intercepts_``, the pretrained weights, the Ladder's
parameters, the outlier offset, the loss curves) in order with their dtypes and shapes,
then the same of the model file written by ``save_model`` and read back, then of that
file's JSON record (its wall times and temporary folder left out). Together they cover every solver, the
autoencoder variants, every head and estimator, the NumPy, compiled, PyTorch, Dask,
memory-map and sparse engines, warm starts, resumed checkpoints, sample and class
weights, unlabeled rows and the command line's default job. A configuration whose
optional dependency is absent is recorded as skipped, and compares as skipped.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import io
import json
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np


def _digits():
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    return (X / 16.0), y


def _hash_arrays(arrays) -> str:
    h = hashlib.sha256()
    for a in arrays:
        a = np.ascontiguousarray(np.asarray(a))
        h.update(f"{a.dtype.str}{a.shape}".encode())
        h.update(a.tobytes())
    return h.hexdigest()[:24]


def _fitted_arrays(est):
    arrays = []
    for attr in ("coefs_", "intercepts_", "pretrained_coefs_", "pretrained_intercepts_"):
        arrays += [np.asarray(a) for a in getattr(est, attr, [])]
    for attr in ("ladder_theta_", "offset_"):
        if hasattr(est, attr):
            arrays.append(np.asarray(getattr(est, attr)))
    curves = getattr(est, "loss_curve_", [])  # a dict of stages' curves, or one curve
    for curve in curves.values() if isinstance(curves, dict) else [curves]:
        arrays.append(np.asarray(curve, dtype=float))
    return arrays


def _fingerprint(fitted) -> str:
    """The fitted arrays, those of the model file written and read back, and the file's
    record, of the estimator ``fitted`` (or of each in a tuple of them)."""
    from stackae.io import load_model, save_model

    fitted = fitted if isinstance(fitted, tuple) else (fitted,)
    arrays, reloaded, records = [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        for i, est in enumerate(fitted):
            path = Path(tmp) / f"model{i}.npz"
            save_model(est, path)
            arrays += _fitted_arrays(est)
            reloaded += _fitted_arrays(load_model(path))
            with np.load(path, allow_pickle=False) as npz:
                record = json.loads(str(npz["metadata"]))
            record.get("history", {}).pop("stage_seconds", None)  # wall times: never the same twice
            record.get("params", {}).pop("checkpoint_dir", None)  # a temporary folder's name
            records.append(json.dumps(record, sort_keys=True))
    text = hashlib.sha256("\n".join(records).encode()).hexdigest()[:12]
    return f"{_hash_arrays(arrays)}:{_hash_arrays(reloaded)}:{text}"


# ------------------------------------------------------------------ configurations
def sae_lbfgs(X, y):
    from stackae import SparseAutoencoder

    return SparseAutoencoder(24, max_iter=30, random_state=0).fit(X)


def sae_adam_denoising_tied(X, y):
    from stackae import SparseAutoencoder

    est = SparseAutoencoder(
        24, solver="adam", max_iter=3, noise="masking", noise_level=0.3, tied_weights=True, random_state=0
    )
    return est.fit(X)


def sae_contractive_tanh_linear(X, y):
    from stackae import SparseAutoencoder

    est = SparseAutoencoder(
        16, activation="tanh", output_activation="linear", sparsity_weight=0.0, contraction=0.1, max_iter=20,
        random_state=0,
    )  # fmt: skip
    return est.fit(X)


def sae_cross_entropy_early_stopping(X, y):
    from stackae import SparseAutoencoder

    est = SparseAutoencoder(
        20, reconstruction_loss="cross_entropy", solver="sgd", nesterovs_momentum=True, early_stopping=True,
        n_iter_no_change=2, max_iter=5, random_state=0,
    )  # fmt: skip
    return est.fit(X)


def softmax_lbfgs(X, y):
    from stackae import SoftmaxRegression

    return SoftmaxRegression(max_iter=40, random_state=0).fit(X, y)


def softmax_sgd_balanced(X, y):
    from stackae import SoftmaxRegression

    est = SoftmaxRegression(solver="sgd", max_iter=4, class_weight="balanced", random_state=0)
    return est.fit(X, y)


def classifier_lbfgs(X, y):
    from stackae import StackedAutoencoderClassifier

    est = StackedAutoencoderClassifier(
        (32, 16), alpha=1e-4, pretrain_max_iter=20, output_max_iter=20, finetune_max_iter=20, random_state=0
    )
    return est.fit(X, y)


def classifier_adam_dropout_maxnorm(X, y):
    from stackae import StackedAutoencoderClassifier

    est = StackedAutoencoderClassifier(
        (32, 16), alpha=1e-4, solver="adam", pretrain_max_iter=2, output_max_iter=2, finetune_max_iter=3,
        dropout=(0.1, 0.2, 0.2), max_norm=3.0, learning_rate_schedule="cosine", finetune_learning_rate=2e-3,
        random_state=0,
    )  # fmt: skip
    return est.fit(X, y)


def classifier_sgd_gaussian_levels(X, y):
    from stackae import StackedAutoencoderClassifier

    est = StackedAutoencoderClassifier(
        (32, 16), alpha=1e-4, solver="sgd", nesterovs_momentum=True, noise="gaussian", noise_level=(0.1, 0.2),
        pretrain_max_iter=2, output_max_iter=2, finetune_max_iter=2, learning_rate_schedule="linear",
        random_state=0,
    )  # fmt: skip
    return est.fit(X, y)


def classifier_early_stopping_weights(X, y):
    from stackae import StackedAutoencoderClassifier

    weights = 1.0 + (np.arange(len(y)) % 3)
    est = StackedAutoencoderClassifier(
        (24,), alpha=1e-4, solver="adam", early_stopping=True, n_iter_no_change=2, pretrain_max_iter=3,
        output_max_iter=3, finetune_max_iter=4, class_weight="balanced", finetune_decay="all", random_state=0,
    )  # fmt: skip
    return est.fit(X, y, sample_weight=weights)


def classifier_unlabeled(X, y):
    from stackae import StackedAutoencoderClassifier

    y = y.copy()
    y[::3] = -1
    est = StackedAutoencoderClassifier(
        (24, 16), alpha=1e-4, pretrain_max_iter=10, output_max_iter=10, finetune_max_iter=10, random_state=0
    )
    return est.fit(X[:1200], y[:1200], X_unlabeled=X[1200:])


def classifier_adversarial_relu(X, y):
    from stackae import StackedAutoencoderClassifier

    est = StackedAutoencoderClassifier(
        (24,), activation="relu", output_activation="linear", sparsity_weight=0.0, alpha=1e-4, adversarial=0.05,
        pretrain_max_iter=10, output_max_iter=10, finetune_max_iter=10, random_state=0,
    )  # fmt: skip
    return est.fit(X, y)


def classifier_warm_start(X, y):
    from stackae import StackedAutoencoderClassifier

    est = StackedAutoencoderClassifier(
        (24,), alpha=1e-4, pretrain_max_iter=10, output_max_iter=10, finetune_max_iter=5, random_state=0
    )
    est.fit(X, y)
    est.set_params(warm_start=True, finetune_max_iter=5)
    return est.fit(X, y)


def classifier_resumed_checkpoint(X, y):
    """Adam stopped by a callback after the second stage's 2nd epoch, then resumed."""
    from stackae import StackedAutoencoderClassifier

    params = dict(
        hidden_layer_sizes=(24,), alpha=1e-4, solver="adam", pretrain_max_iter=3, output_max_iter=3,
        finetune_max_iter=3, checkpoint_every=1, random_state=0,
    )  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        first = StackedAutoencoderClassifier(**params, checkpoint_dir=tmp)
        first.fit(X, y)
        # a second fit of the same run finds the finished checkpoints and continues from them
        return StackedAutoencoderClassifier(**params, checkpoint_dir=tmp).fit(X, y)


def classifier_numpy_kernels_float32(X, y):
    from stackae import StackedAutoencoderClassifier, get_kernels, set_kernels

    before = get_kernels()
    set_kernels("numpy")
    try:
        est = StackedAutoencoderClassifier(
            (32, 16), alpha=1e-4, solver="adam", pretrain_max_iter=2, output_max_iter=2, finetune_max_iter=2,
            random_state=0,
        )  # fmt: skip
        return est.fit(X.astype(np.float32), y)
    finally:
        set_kernels(before)


def classifier_compiled_float32(X, y):
    from stackae import StackedAutoencoderClassifier

    est = StackedAutoencoderClassifier(
        (32, 16), alpha=1e-4, solver="adam", pretrain_max_iter=2, output_max_iter=2, finetune_max_iter=2,
        random_state=0,
    )  # fmt: skip
    return est.fit(X.astype(np.float32), y)


def classifier_memmap_sparse(X, y):
    """A memory-mapped X for the classifier, then SciPy sparse for an autoencoder: the
    file engines, in one fingerprint."""
    import scipy.sparse

    from stackae import SparseAutoencoder, StackedAutoencoderClassifier

    with tempfile.TemporaryDirectory() as tmp:
        np.save(Path(tmp) / "X.npy", X)
        Xm = np.load(Path(tmp) / "X.npy", mmap_mode="r")
        est = StackedAutoencoderClassifier(
            (24,), alpha=1e-4, pretrain_max_iter=10, output_max_iter=10, finetune_max_iter=10, random_state=0
        ).fit(Xm, y)
    sparse = SparseAutoencoder(16, max_iter=10, random_state=0).fit(scipy.sparse.csr_matrix(X))
    return est, sparse


def classifier_torch(X, y):
    import torch

    from stackae import StackedAutoencoderClassifier

    est = StackedAutoencoderClassifier(
        (24,), alpha=1e-4, solver="adam", pretrain_max_iter=2, output_max_iter=2, finetune_max_iter=2,
        random_state=0,
    )  # fmt: skip
    return est.fit(torch.from_numpy(X), torch.from_numpy(y))


def classifier_dask(X, y):
    import dask
    import dask.array as da

    from stackae import StackedAutoencoderClassifier

    with dask.config.set(scheduler="synchronous"):
        est = StackedAutoencoderClassifier(
            (24,), alpha=1e-4, pretrain_max_iter=5, output_max_iter=5, finetune_max_iter=5, random_state=0
        )
        return est.fit(da.from_array(X, chunks=(500, 64)), y)


def regressor(X, y):
    from stackae import StackedAutoencoderRegressor

    T = np.column_stack([y / 9.0, (y % 2).astype(float)])
    est = StackedAutoencoderRegressor(
        (24,), alpha=1e-4, pretrain_max_iter=10, output_max_iter=10, finetune_max_iter=10, random_state=0
    )
    return est.fit(X, T)


def regressor_adam(X, y):
    from stackae import StackedAutoencoderRegressor

    est = StackedAutoencoderRegressor(
        (24, 12), alpha=1e-4, solver="adam", pretrain_max_iter=2, output_max_iter=2, finetune_max_iter=3,
        random_state=0,
    )  # fmt: skip
    return est.fit(X, y / 9.0)


def deep_autoencoder(X, y):
    from stackae import StackedAutoencoder

    est = StackedAutoencoder((32, 8), alpha=1e-4, pretrain_max_iter=10, finetune_max_iter=10, random_state=0)
    return est.fit(X)


def outlier_detector(X, y):
    from stackae import StackedAutoencoderOutlierDetector

    est = StackedAutoencoderOutlierDetector(
        (32, 8), alpha=1e-4, pretrain_max_iter=10, finetune_max_iter=10, random_state=0
    )
    return est.fit(X[y == 0])


def ladder(X, y):
    from stackae import LadderNetworkClassifier

    y = y.copy()
    y[50:] = -1
    est = LadderNetworkClassifier(
        (32, 16), denoising_weights=(1000.0, 10.0, 0.1, 0.1), max_iter=2, batch_size=25, random_state=0
    )
    return est.fit(X, y)


def cli_default_job(X, y):
    """``stackae train`` as the README runs it (the embedded digits, no options)."""
    from stackae.cli import main
    from stackae.io import load_model

    with tempfile.TemporaryDirectory() as tmp, contextlib.redirect_stdout(io.StringIO()):
        out = Path(tmp) / "model.npz"
        code = main(["train", "--quiet", "--out", str(out)])
        if code:
            raise RuntimeError(f"stackae train exited {code}")
        return load_model(out)


CONFIGURATIONS = [
    sae_lbfgs,
    sae_adam_denoising_tied,
    sae_contractive_tanh_linear,
    sae_cross_entropy_early_stopping,
    softmax_lbfgs,
    softmax_sgd_balanced,
    classifier_lbfgs,
    classifier_adam_dropout_maxnorm,
    classifier_sgd_gaussian_levels,
    classifier_early_stopping_weights,
    classifier_unlabeled,
    classifier_adversarial_relu,
    classifier_warm_start,
    classifier_resumed_checkpoint,
    classifier_numpy_kernels_float32,
    classifier_compiled_float32,
    classifier_memmap_sparse,
    classifier_torch,
    classifier_dask,
    regressor,
    regressor_adam,
    deep_autoencoder,
    outlier_detector,
    ladder,
    cli_default_job,
]


def fingerprints(only=None) -> dict[str, str]:
    X, y = _digits()
    found = {}
    for config in CONFIGURATIONS:
        name = config.__name__
        if only and name not in only:
            continue
        start = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                found[name] = _fingerprint(config(X, y))
            except ImportError as exc:
                found[name] = f"skipped ({exc.name} is not installed)"
        print(f"  {name:36s} {found[name]}  {time.perf_counter() - start:5.1f} s", file=sys.stderr)
    return found


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("action", choices=["record", "compare"])
    parser.add_argument("file", type=Path, help="the recording (JSON)")
    parser.add_argument("--only", nargs="+", metavar="NAME", help="these configurations alone")
    args = parser.parse_args(argv)
    from stackae._rows import get_num_threads

    machine = {"threads": get_num_threads()}
    if args.action == "record":
        record = {"machine": machine, "fingerprints": fingerprints(args.only)}
        args.file.parent.mkdir(parents=True, exist_ok=True)
        args.file.write_text(json.dumps(record, indent=1) + "\n")
        print(f"recorded {len(record['fingerprints'])} fingerprints in {args.file}")
        return 0
    record = json.loads(args.file.read_text())
    if record["machine"] != machine:
        print(f"the recording was made with {record['machine']}, this run has {machine}", file=sys.stderr)
        return 2
    now = fingerprints(args.only or list(record["fingerprints"]))
    differ = [name for name, value in now.items() if record["fingerprints"].get(name) != value]
    print(f"{len(now) - len(differ)} of {len(now)} configurations bit-identical")
    for name in differ:
        print(f"DIFFERS {name}: recorded {record['fingerprints'].get(name)}, now {now[name]}")
    return 1 if differ else 0


if __name__ == "__main__":
    sys.exit(main())
