"""Learning from unlabeled rows on permutation-invariant MNIST: the Ladder network, its
Gamma-model and its supervised baseline, and greedy stacks with and without
pretraining, at 100, 1000 or all 60,000 labels; and UFLDL's Self-Taught Learning
exercise. Every model is tested on the 10,000 test images; labeled subsets are
class-balanced and drawn by the seed; the unlabeled rows are the other training images.

    python benchmarks/semi_supervised_mnist.py --labels 100 --methods ladder --seeds 0 1 2
    python benchmarks/semi_supervised_mnist.py --labels all --methods baseline --epochs 30
    python benchmarks/semi_supervised_mnist.py --labels 100 1000 --methods greedy no-pretraining
    python benchmarks/semi_supervised_mnist.py --self-taught

``--epochs N`` shortens a Ladder run's schedule to N epochs (the same shape: the rate
decays over the last third); the table says so beside each figure. Prints one row per
run (test accuracy, wall time) and, per method and label count, the mean and spread
over the seeds, with the machine it ran on.
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np

from _common import DEFAULT_MNIST, machine_description, print_table
from stackae import LadderNetworkClassifier, SoftmaxRegression, SparseAutoencoder, StackedAutoencoderClassifier
from stackae.datasets import load_mnist

#: the paper's test errors (Rasmus et al. 2015, Table 1), for the table beside ours
PAPER = {
    ("ladder", "100"): "98.94 (±0.37)",
    ("ladder", "1000"): "99.16",
    ("ladder", "all"): "99.43",
    ("gamma", "100"): "96.94 (±1.44)",
    ("gamma", "1000"): "98.47",
    ("gamma", "all"): "99.22",
    ("baseline", "100"): "78.26",
    ("baseline", "1000"): "94.30",
    ("baseline", "all"): "99.20",
}


def keep_labels(y, per_class: int, seed: int):
    """Indices of ``per_class`` rows of each class, drawn by ``seed`` (class-balanced)."""
    rng = np.random.RandomState(seed)
    return np.sort(np.concatenate([rng.choice(np.flatnonzero(y == c), per_class, replace=False) for c in np.unique(y)]))


def ladder(method: str, labels: str, seed: int, epochs: int | None, verbose: int, device: str):
    preset = "ladder" if labels == "all" else f"ladder-{labels}"
    params = {"random_state": seed, "verbose": verbose, "device": device}
    if epochs is not None:
        params["max_iter"] = epochs
    model = LadderNetworkClassifier.from_preset(preset, **params)
    L = len(model.hidden_layer_sizes) + 1
    if method == "gamma":  # the top layer's denoising cost alone
        model.set_params(denoising_weights=(0.0,) * L + (1.0,))
    elif method == "baseline":  # batch normalization and noise, no decoder
        model.set_params(denoising_weights=(0.0,) * (L + 1))
    return model


def greedy(pretrain: bool, seed: int):
    """The greedy stack of the fast recipe (784-200-200-10, Adam), pretrained on every
    training image or not, fine-tuned on the labeled ones."""
    return StackedAutoencoderClassifier.from_preset(
        "fast",
        pretrain_max_iter=3 if pretrain else 0,
        output_max_iter=100,
        finetune_max_iter=200,
        batch_size=32,
        random_state=seed,
    )


def run(method, labels, seed, data, epochs, verbose, device):
    X, y = data.X_train, data.y_train
    if labels == "all":
        y_fit = y
    else:
        kept = keep_labels(y, int(labels) // 10, seed)
        y_fit = np.full_like(y, -1)
        y_fit[kept] = y[kept]
    if method in ("ladder", "gamma", "baseline"):
        model = ladder(method, labels, seed, epochs, verbose, device)
    else:
        model = greedy(method == "greedy", seed)
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if model.__class__ is StackedAutoencoderClassifier and method == "no-pretraining" and labels != "all":
            model.fit(X[y_fit != -1], y_fit[y_fit != -1])  # no pretraining: the unlabeled rows have no use
        else:
            model.fit(X, y_fit)
    seconds = time.perf_counter() - start
    return float(model.score(data.X_test, data.y_test)), seconds


def self_taught(data):
    """UFLDL's Self-Taught Learning exercise: a 200-unit sparse autoencoder (its
    hyperparameters: rho 0.1, lambda 3e-3, beta 3, L-BFGS 400 iterations) on the
    training digits 5-9; a softmax (lambda 1e-4) on its features of half the training
    digits 0-4, tested on the other half."""
    X, y = data.X_train, data.y_train
    unlabeled = X[y >= 5]
    low = np.flatnonzero(y < 5)
    train, test = low[: low.size // 2], low[low.size // 2 :]
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ae = SparseAutoencoder(200, alpha=3e-3, sparsity_target=0.1, sparsity_weight=3.0, max_iter=400, random_state=0)
        ae.fit(unlabeled)
        softmax = SoftmaxRegression(alpha=1e-4, max_iter=400, random_state=0).fit(ae.transform(X[train]), y[train])
    seconds = time.perf_counter() - start
    raw = SoftmaxRegression(alpha=1e-4, max_iter=400, random_state=0).fit(X[train], y[train])
    return (
        float(softmax.score(ae.transform(X[test]), y[test])),
        float(raw.score(X[test], y[test])),
        seconds,
        (unlabeled.shape[0], train.size, test.size),
    )


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mnist", default=DEFAULT_MNIST)
    parser.add_argument("--labels", nargs="+", default=["100"], choices=["100", "1000", "all"])
    parser.add_argument(
        "--methods",
        nargs="+",
        default=["ladder"],
        choices=["ladder", "gamma", "baseline", "greedy", "no-pretraining"],
    )
    parser.add_argument("--seeds", nargs="+", type=int, default=[0])
    parser.add_argument("--epochs", type=int, help="a Ladder run's epochs (default: the preset's 150)")
    parser.add_argument("--self-taught", action="store_true", help="UFLDL's Self-Taught Learning exercise only")
    parser.add_argument("--verbose", type=int, default=0)
    parser.add_argument("--device", default="cpu", help="the Ladder runs' device, e.g. cuda")
    args = parser.parse_args(argv)
    data = load_mnist(args.mnist, dtype=np.float32)
    print(machine_description())
    if args.self_taught:
        accuracy, raw, seconds, (n_unlabeled, n_train, n_test) = self_taught(data)
        print(
            f"self-taught learning: features from {n_unlabeled} unlabeled digits 5-9, a softmax on {n_train} "
            f"digits 0-4, tested on {n_test}"
        )
        print_table(
            ["features", "test accuracy", "wall s"],
            [
                ["200-unit sparse autoencoder", f"{100 * accuracy:.2f}%", f"{seconds:.0f}"],
                ["raw pixels", f"{100 * raw:.2f}%", ""],
            ],
        )
        print("UFLDL reports about 98% with the autoencoder's features")
        return
    rows, results = [], {}
    for labels in args.labels:
        for method in args.methods:
            for seed in args.seeds:
                accuracy, seconds = run(method, labels, seed, data, args.epochs, args.verbose, args.device)
                results.setdefault((method, labels), []).append(accuracy)
                epochs = args.epochs if method in ("ladder", "gamma", "baseline") and args.epochs else ""
                rows.append([method, labels, str(seed), str(epochs or "-"), f"{100 * accuracy:.2f}%", f"{seconds:.0f}"])
                print_table(["method", "labels", "seed", "epochs", "test accuracy", "wall s"], rows[-1:])
    print_table(["method", "labels", "seed", "epochs", "test accuracy", "wall s"], rows)
    summary = []
    for (method, labels), accs in results.items():
        spread = f" ± {100 * np.std(accs):.2f}" if len(accs) > 1 else ""
        summary.append(
            [method, labels, str(len(accs)), f"{100 * np.mean(accs):.2f}%{spread}", PAPER.get((method, labels), "")]
        )
    print_table(["method", "labels", "seeds", "mean test accuracy", "paper"], summary)


if __name__ == "__main__":
    main()
