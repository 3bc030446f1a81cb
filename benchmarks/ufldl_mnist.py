"""UFLDL's stacked-autoencoder exercise on the full MNIST, end to end, and the fast recipe.

Both train 784-200-200-10 (rho = 0.1, lambda = 3e-3, beta = 3; softmax lambda = 1e-4;
pixels / 255; float32), greedily pretrained and then fine-tuned:

* ``ufldl``: L-BFGS, 400 iterations a stage (UFLDL reports 87.7% test accuracy before
  fine-tuning and 97.6% after);
* ``fast``: Adam, learning rate 3e-3, batches of 256: 3 epochs per autoencoder, 3 for
  the softmax, 20 of fine-tuning.

Prints a table of test accuracy before and after fine-tuning, the wall time (data
loading included) and of every stage, and the machine it ran on.

    python benchmarks/ufldl_mnist.py [--recipe ufldl|fast|both] [--mnist DIR] [--max-iter 400]
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

UFLDL = dict(alpha=3e-3, sparsity_target=0.1, sparsity_weight=3.0, softmax_alpha=1e-4)

#: The fast recipe, also documented in the README as a `stackae train` command.
FAST = dict(
    solver="adam", learning_rate=3e-3, batch_size=256, pretrain_max_iter=3, softmax_max_iter=3, finetune_max_iter=20
)


def run_recipe(mnist, params: dict, dtype, verbose: bool, random_state: int = 0):
    """Load the data and train; the wall time includes loading."""
    start = time.perf_counter()
    data = load_mnist(mnist, dtype=dtype)
    clf = StackedAutoencoderClassifier((200, 200), **UFLDL, **params, random_state=random_state, verbose=int(verbose))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # a fixed iteration budget is the protocol
        clf.fit(data.X_train, data.y_train)
    total = time.perf_counter() - start
    before = float(np.mean(clf.predict(data.X_test, pretrained=True) == data.y_test))
    after = clf.score(data.X_test, data.y_test)
    return clf, before, after, total


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mnist", default=DEFAULT_MNIST, help="folder with the four MNIST IDX files")
    parser.add_argument("--recipe", choices=["ufldl", "fast", "both"], default="both")
    parser.add_argument("--max-iter", type=int, default=400, help="L-BFGS iterations a stage (ufldl recipe)")
    parser.add_argument("--dtype", choices=["float32", "float64"], default="float32")
    parser.add_argument("--random-state", type=int, default=0)
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args(argv)
    dtype = np.dtype(args.dtype).type
    print(f"machine: {machine_description()}; stackae threads: {get_num_threads()}")
    recipes = []
    if args.recipe in ("ufldl", "both"):
        it = args.max_iter
        recipes.append(
            (
                f"UFLDL protocol: L-BFGS {it} it a stage, {args.dtype}",
                dict(pretrain_max_iter=it, softmax_max_iter=it, finetune_max_iter=it),
            )
        )
    if args.recipe in ("fast", "both"):
        recipes.append((f"fast recipe: Adam 3+3+20 epochs, {args.dtype}", FAST))
    rows = []
    for name, params in recipes:
        clf, before, after, total = run_recipe(args.mnist, params, dtype, not args.quiet, args.random_state)
        stages = " + ".join(
            f"{stage} {sec:.1f}s ({clf.n_iter_[stage]} it)" for stage, sec in clf.stage_seconds_.items()
        )
        rows.append([name, f"{100 * before:.2f}%", f"{100 * after:.2f}%", f"{total:.1f} s", stages])
    rows.append(["UFLDL's reported result (minFunc L-BFGS, MATLAB)", "87.7%", "97.6%", "-", "-"])
    print_table(
        ["recipe", "test acc. before fine-tuning", "test acc. after", "wall time (with loading)", "stages"], rows
    )


if __name__ == "__main__":
    main()
