"""The heads beyond the softmax, against what people would use instead, in one run:

* regression: StackedAutoencoderRegressor against scikit-learn's MLPRegressor (same
  hidden layers, L-BFGS, no pretraining) on data scikit-learn generates or ships
  (Friedman #1 with noise; the diabetes data), test R^2 and seconds;
* codes: StackedAutoencoder (the deep autoencoder, fine-tuned) against PCA with as many
  components as its code layer, test reconstruction error (squared, per image) on
  MNIST (or the embedded 8x8 digits with ``--data digits``)::

    python benchmarks/regression_and_codes.py
    python benchmarks/regression_and_codes.py --data digits   # seconds, no MNIST needed
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
from sklearn.datasets import load_diabetes, make_friedman1
from sklearn.decomposition import PCA
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPRegressor

from _common import DEFAULT_MNIST, machine_description, print_table
from stackae import StackedAutoencoder, StackedAutoencoderRegressor
from stackae.datasets import load_digits_split, load_mnist


def _timed(fit):
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = fit()
    return model, time.perf_counter() - start


def regression_rows() -> list[list[str]]:
    friedman = make_friedman1(5000, noise=1.0, random_state=0)
    sets = {"Friedman #1 (5000 x 10)": friedman, "diabetes (442 x 10)": load_diabetes(return_X_y=True)}
    rows = []
    for name, (X, y) in sets.items():
        X = (X - X.mean(0)) / X.std(0)
        y = (y - y.mean()) / y.std()
        X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0)
        for hidden in ((32,), (32, 16)):
            ours, t_ours = _timed(
                lambda hidden=hidden, X_train=X_train, y_train=y_train: StackedAutoencoderRegressor(
                    hidden, alpha=1e-4, sparsity_weight=0.0, activation="tanh", output_activation="linear",
                    pretrain_max_iter=100, output_max_iter=100, finetune_max_iter=200, output_alpha=1e-2,
                    finetune_decay="all", random_state=0,
                ).fit(X_train, y_train)
            )  # fmt: skip
            mlp, t_mlp = _timed(
                lambda hidden=hidden, X_train=X_train, y_train=y_train: MLPRegressor(
                    hidden_layer_sizes=hidden,
                    activation="tanh",
                    solver="lbfgs",
                    alpha=1e-2,
                    max_iter=300,
                    random_state=0,
                ).fit(X_train, y_train)
            )
            rows.append(
                [
                    name,
                    str(hidden),
                    f"{ours.score(X_test, y_test):.4f}",
                    f"{t_ours:.2f}",
                    f"{mlp.score(X_test, y_test):.4f}",
                    f"{t_mlp:.2f}",
                    f"{t_mlp / t_ours:.2f}",
                ]
            )
    return rows


def code_rows(data_name: str, mnist: str) -> list[list[str]]:
    if data_name == "digits":
        data = load_digits_split()
        hidden, epochs = (32, 8), (30, 100)
    else:
        data = load_mnist(mnist, dtype="float32")
        hidden, epochs = (1000, 500, 250, 30), (10, 20)  # Hinton and Salakhutdinov's 784-1000-500-250-30
    n_code = hidden[-1]
    minibatch = data_name != "digits"
    params = dict(
        alpha=1e-5 if minibatch else 1e-4,
        sparsity_weight=0.0,
        reconstruction_loss="cross_entropy",
        solver="adam" if minibatch else "lbfgs",
        learning_rate=1e-3,
        batch_size=128,
        pretrain_max_iter=epochs[0],
        finetune_max_iter=epochs[1],
        random_state=0,
    )
    ae, t_ae = _timed(lambda: StackedAutoencoder(hidden, **params).fit(data.X_train))
    pca, t_pca = _timed(lambda: PCA(n_code, random_state=0).fit(data.X_train))

    def squared(R):
        return float(np.mean(np.sum((np.asarray(R, dtype=np.float64) - data.X_test) ** 2, axis=1)))

    net = "-".join(map(str, (data.X_train.shape[1], *hidden)))
    return [
        [f"StackedAutoencoder {net}, fine-tuned", f"{squared(ae.reconstruct(data.X_test)):.3f}", f"{t_ae:.1f}"],
        [
            f"StackedAutoencoder {net}, pretrained only",
            f"{squared(ae.reconstruct(data.X_test, pretrained=True)):.3f}",
            "",
        ],
        [
            f"PCA, {n_code} components",
            f"{squared(pca.inverse_transform(pca.transform(data.X_test))):.3f}",
            f"{t_pca:.1f}",
        ],
    ]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", choices=["mnist", "digits"], default="mnist")
    parser.add_argument("--mnist", default=str(DEFAULT_MNIST))
    parser.add_argument("--skip-regression", action="store_true")
    args = parser.parse_args(argv)
    print(f"machine: {machine_description()}")
    if not args.skip_regression:
        print("regression: test R^2 (standardised targets) and fit seconds, in the same run")
        print_table(
            ["data", "hidden", "stackae R^2", "stackae s", "MLPRegressor R^2", "MLPRegressor s", "MLP s / stackae s"],
            regression_rows(),
        )
    print(f"codes ({args.data}): test reconstruction error, squared, summed over a row's pixels, mean over rows")
    print_table(["model", "error", "fit s"], code_rows(args.data, args.mnist))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
