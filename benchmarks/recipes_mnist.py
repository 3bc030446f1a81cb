"""Recipes beyond the tutorial on the full MNIST, each with and without pretraining.

Every row trains a StackedAutoencoderClassifier on the 60,000 MNIST training images
(float32, pixels / 255) and reports the test accuracy and the fit's wall time, and then
trains the same network by the same schedule without pretraining (the layers start
from UFLDL's random initialisation: ``pretrain_max_iter=0``, ``output_max_iter=0``),
so the table says whether pretraining earns its place. The rows:

* ``ufldl``: the ``ufldl`` preset (sparse sigmoid autoencoders, L-BFGS 400 it a stage);
* ``fast``: the ``fast`` preset (Adam, 3 epochs a stage, 20 of fine-tuning);
* ``denoising``, ``contractive``, ``tied``, ``relu``, ``tanh``: the fast schedule with
  one change each (see ``ROWS``);
* ``best``: the ``best`` preset.

``--device cuda`` trains on a GPU (the images moved to the card once, before the clock
starts; the test accuracy is computed on the host from the fitted NumPy weights).

    python benchmarks/recipes_mnist.py [--rows fast denoising ...] [--no-baseline] [--device cuda] [--verbose]
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

#: (preset, changes, what the row shows)
ROWS = {
    "ufldl": ("ufldl", {}, "UFLDL protocol: sparse sigmoid AEs, L-BFGS 400 it a stage"),
    "fast": ("fast", {}, "fast: sparse sigmoid AEs, Adam 3+3+3+20 epochs"),
    "denoising": (
        "fast",
        dict(noise="masking", noise_level=0.25, sparsity_weight=0.0, reconstruction_loss="cross_entropy"),
        "denoising: masking noise 0.25, cross-entropy, no sparsity (fast schedule)",
    ),
    "contractive": (
        "fast",
        dict(contraction=0.1, sparsity_weight=0.0, reconstruction_loss="cross_entropy"),
        "contractive: contraction 0.1, cross-entropy, no sparsity (fast schedule)",
    ),
    "tied": ("fast", dict(tied_weights=True), "tied: sparse sigmoid AEs with W2 = W1^T (fast schedule)"),
    "relu": (
        "fast",
        dict(activation="relu", output_activation="linear", sparsity_weight=0.0, alpha=1e-4),
        "ReLU: ReLU units, linear reconstruction, decay 1e-4 (fast schedule)",
    ),
    "tanh": (
        "fast",
        dict(activation="tanh", output_activation="linear", sparsity_weight=0.0, alpha=1e-4),
        "tanh: tanh units, linear reconstruction, decay 1e-4 (fast schedule)",
    ),
    "best": ("best", {}, "best: the best preset"),
}


def fit(data, preset: str, changes: dict, pretrained: bool, seed: int, device: str = "cpu", verbose: int = 0):
    params = dict(changes, random_state=seed, verbose=verbose)
    if not pretrained:
        params.update(pretrain_max_iter=0, output_max_iter=0)
    clf = StackedAutoencoderClassifier.from_preset(preset, **params)
    X, y = data.X_train, data.y_train
    if device != "cpu":  # the data on the card before the clock starts, as a user keeps it there
        import torch

        X, y = torch.from_numpy(X).to(device), torch.from_numpy(y).to(device)
        torch.cuda.synchronize(device)
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(X, y)  # ends with the weights on the host: nothing left queued on the card
    return clf.score(data.X_test, data.y_test), time.perf_counter() - start


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mnist", default=DEFAULT_MNIST)
    parser.add_argument("--rows", nargs="+", choices=list(ROWS), default=list(ROWS))
    parser.add_argument("--no-baseline", action="store_true", help="skip the runs without pretraining")
    parser.add_argument(
        "--baseline-only",
        nargs="+",
        default=[],
        choices=list(ROWS),
        help="rows whose pretrained run is measured elsewhere (e.g. ufldl by ufldl_mnist.py): only the run "
        "without pretraining",
    )
    parser.add_argument("--random-state", type=int, default=0)
    parser.add_argument("--device", default="cpu", help="'cpu' (NumPy) or 'cuda' / 'cuda:N' (PyTorch on a GPU)")
    parser.add_argument("--verbose", action="store_true", help="print every epoch of every stage")
    args = parser.parse_args(argv)
    print(f"machine: {machine_description()}; stackae threads: {get_num_threads()}")
    if args.device != "cpu":
        import torch

        props = torch.cuda.get_device_properties(args.device)
        print(f"device: {props.name} ({props.total_memory / 2**30:.0f} GiB), torch {torch.__version__}")
    data = load_mnist(args.mnist, dtype=np.float32)
    table = []
    for name in args.rows:
        preset, changes, text = ROWS[name]
        row = [text, "see ufldl_mnist.py" if name == "ufldl" else "not run", "-"]
        if name not in args.baseline_only:
            accuracy, seconds = fit(data, preset, changes, True, args.random_state, args.device, int(args.verbose))
            row = [text, f"{100 * accuracy:.2f}%", f"{seconds:.1f} s"]
        if args.no_baseline:
            row += ["-", "-", "-"]
        else:
            plain, plain_seconds = fit(data, preset, changes, False, args.random_state, args.device, int(args.verbose))
            effect = "-" if name in args.baseline_only else f"{100 * (accuracy - plain):+.2f} points"
            row += [f"{100 * plain:.2f}%", f"{plain_seconds:.1f} s", effect]
        table.append(row)
        print(" | ".join(row), flush=True)
    print()
    print_table(
        [
            "recipe (784-...-10, float32)",
            "test accuracy",
            "wall time",
            "without pretraining",
            "wall time",
            "pretraining's effect",
        ],
        table,
    )


if __name__ == "__main__":
    main()
