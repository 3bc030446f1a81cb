"""The one-class MNIST protocol (Ruff et al., "Deep One-Class Classification", ICML 2018):
one digit is normal; each detector trains on that digit's training images only and
scores the whole test set; the AUC of normal against the rest, per digit and their mean.

stackae's StackedAutoencoderOutlierDetector against scikit-learn's IsolationForest and
OneClassSVM (and PyOD's AutoEncoder where PyOD is installed), all in the same run::

    python benchmarks/outliers_mnist.py                      # all ten digits
    python benchmarks/outliers_mnist.py --digits 0 1 --quick # a smoke run

Prints a table of AUCs and fit+score seconds per digit, the means, the machine, and
each peer's time as a ratio of stackae's.
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
from sklearn.ensemble import IsolationForest
from sklearn.metrics import roc_auc_score
from sklearn.svm import OneClassSVM

from _common import DEFAULT_MNIST, machine_description, print_table
from stackae import StackedAutoencoderOutlierDetector
from stackae.datasets import load_mnist


def _stackae(quick: bool):
    epochs = (2, 4) if quick else (10, 30)
    return StackedAutoencoderOutlierDetector(
        (128, 32),
        alpha=1e-4,
        sparsity_weight=0.0,
        # squared error: a mean AUC of 0.936 on digits 2, 5, 8 and 4 against 0.868 with
        # cross-entropy (whose per-pixel loss weighs the uncertain grey pixels most)
        reconstruction_loss="squared",
        solver="adam",
        learning_rate=3e-3,
        batch_size=128,
        pretrain_max_iter=epochs[0],
        finetune_max_iter=epochs[1],
        random_state=0,
    )


def detectors(quick: bool) -> dict:
    """name -> (make, scores of the test rows: higher is more normal)."""
    found = {
        "stackae": (lambda: _stackae(quick), lambda d, X: d.score_samples(X)),
        "IsolationForest": (lambda: IsolationForest(random_state=0), lambda d, X: d.score_samples(X)),
        # Ruff et al.'s OC-SVM baseline: an RBF kernel with gamma = 1/n_features (scikit-learn's 'scale' is close)
        "OneClassSVM": (lambda: OneClassSVM(gamma="scale", nu=0.1), lambda d, X: d.score_samples(X)),
    }
    try:
        from pyod.models.auto_encoder import AutoEncoder

        # as a user gets it: PyOD's defaults (64-32 ReLU, batch norm, dropout, 10 epochs)
        found["PyOD AutoEncoder"] = (
            lambda: AutoEncoder(epoch_num=2 if quick else 10, verbose=0, random_state=0),
            lambda d, X: -d.decision_function(X),
        )
    except ImportError:
        pass
    return found


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mnist", default=str(DEFAULT_MNIST))
    parser.add_argument("--digits", type=int, nargs="+", default=list(range(10)))
    parser.add_argument("--quick", action="store_true", help="few epochs, 1000 test images: a smoke run")
    args = parser.parse_args(argv)
    data = load_mnist(args.mnist, dtype="float32")
    X_test, y_test = data.X_test, data.y_test
    if args.quick:
        X_test, y_test = X_test[:1000], y_test[:1000]
    found = detectors(args.quick)
    auc = {name: [] for name in found}
    seconds = {name: [] for name in found}
    for digit in args.digits:
        X_train = data.X_train[data.y_train == digit]
        if args.quick:
            X_train = X_train[:1000]
        for name, (make, score) in found.items():
            start = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                detector = make().fit(X_train)
                s = score(detector, X_test)
            seconds[name].append(time.perf_counter() - start)
            auc[name].append(roc_auc_score(y_test == digit, s))
    names = list(found)
    rows = [[str(d)] + [f"{auc[n][i]:.4f} ({seconds[n][i]:.1f} s)" for n in names] for i, d in enumerate(args.digits)]
    rows.append(["mean"] + [f"{np.mean(auc[n]):.4f} ({np.sum(seconds[n]):.1f} s)" for n in names])
    rows.append(["time / stackae's"] + [f"{np.sum(seconds[n]) / np.sum(seconds['stackae']):.2f}" for n in names])
    print(f"machine: {machine_description()}")
    print(f"one-class MNIST: {X_test.shape[0]} test images; AUC of normal against the rest (fit + score seconds)")
    print_table(["normal digit", *names], rows)
    if "PyOD AutoEncoder" not in found:
        print("PyOD is not installed (pip install pyod): its AutoEncoder was not measured.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
