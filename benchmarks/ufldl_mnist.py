"""UFLDL's stacked-autoencoder exercise on the full MNIST, end to end.

784-200-200-10; rho = 0.1, lambda = 3e-3, beta = 3; softmax lambda = 1e-4; pixels / 255;
L-BFGS, 400 iterations a stage (UFLDL reports 87.7% test accuracy before fine-tuning and
97.6% after). Prints a table of test accuracy before and after fine-tuning and the
wall time of every stage, and the machine it ran on.

    python benchmarks/ufldl_mnist.py [--mnist DIR] [--max-iter 400] [--dtype float32]
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning

from _common import DEFAULT_MNIST, machine_description, print_table
from stackae import StackedAutoencoderClassifier, get_num_threads
from stackae.datasets import load_mnist


def run_ufldl(data, max_iter: int, dtype, verbose: bool):
    clf = StackedAutoencoderClassifier(
        (200, 200),
        alpha=3e-3,
        sparsity_target=0.1,
        sparsity_weight=3.0,
        softmax_alpha=1e-4,
        pretrain_max_iter=max_iter,
        softmax_max_iter=max_iter,
        finetune_max_iter=max_iter,
        random_state=0,
        verbose=int(verbose),
    )
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # 400 iterations is the protocol
        clf.fit(data.X_train.astype(dtype, copy=False), data.y_train)
    total = time.perf_counter() - start
    before = float(np.mean(clf.predict(data.X_test, pretrained=True) == data.y_test))
    after = clf.score(data.X_test, data.y_test)
    return clf, before, after, total


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mnist", default=DEFAULT_MNIST, help="folder with the four MNIST IDX files")
    parser.add_argument("--max-iter", type=int, default=400, help="L-BFGS iterations a stage")
    parser.add_argument("--dtype", choices=["float32", "float64"], default="float32")
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args(argv)
    dtype = np.dtype(args.dtype).type
    data = load_mnist(args.mnist, dtype=dtype)
    print(f"machine: {machine_description()}; stackae threads: {get_num_threads()}")
    clf, before, after, total = run_ufldl(data, args.max_iter, dtype, not args.quiet)
    stages = " + ".join(f"{name} {sec:.0f}s ({clf.n_iter_[name]} it)" for name, sec in clf.stage_seconds_.items())
    print_table(
        ["recipe", "test acc. before fine-tuning", "test acc. after", "wall time", "stages"],
        [
            [
                f"UFLDL protocol: L-BFGS {args.max_iter} it a stage, {args.dtype}",
                f"{100 * before:.2f}%",
                f"{100 * after:.2f}%",
                f"{total:.0f} s",
                stages,
            ],
            ["UFLDL's reported result (minFunc L-BFGS, MATLAB)", "87.7%", "97.6%", "-", "-"],
        ],
    )


if __name__ == "__main__":
    main()
