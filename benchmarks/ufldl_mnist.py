"""UFLDL's stacked-autoencoder exercise on the full MNIST, end to end, and the fast recipe,
each against its own matrix-product floor.

Both train 784-200-200-10 (rho = 0.1, lambda = 3e-3, beta = 3; softmax lambda = 1e-4;
pixels / 255; float32), greedily pretrained and then fine-tuned:

* ``ufldl``: L-BFGS, 400 iterations a stage (UFLDL reports 87.7% test accuracy before
  fine-tuning and 97.6% after); ``--history 10 100`` runs it with each number of
  L-BFGS correction pairs (stackae's default 10; UFLDL's minFunc keeps 100);
* ``fast``: Adam, learning rate 3e-3, batches of 256: 3 epochs per autoencoder, 3 for
  the softmax, 20 of fine-tuning (the ``fast`` preset).

For each run it prints test accuracy before and after fine-tuning and where the time
went: the floor is the matrix products of every evaluation at the float32 matrix-product
peak, the mean of the peaks measured just before and just after the run; "evaluations"
is the time inside the objectives (and their rate against the peak), "optimizer" the
rest of each stage (L-BFGS's own work, minibatch steps and gathers), "other" the rest of
the fit (features between stages, checks). For a minibatch recipe, "products alone"
times one step's matrix products at its batch size (its shapes and layouts, BLAS on all
threads, nothing between them; the mean of timings just before and just after the
fit, as for the peak), times its steps: what the products themselves allow at
those shapes, against the floor's 4000 x 4000 rate; and the same on one BLAS thread,
which says how much OpenBLAS's own threading gives at them; "wall / products alone" is
the fit's time against the former. Each run is preceded by an untimed warm-up fit of
the same recipe on 512 rows (the process's one-time loading of compiled kernels). Then
the machine it ran on.

    python benchmarks/ufldl_mnist.py [--recipe ufldl|fast|both] [--history 10] [--max-iter 400]
        [--batch-size 256] [--learning-rate 3e-3]
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning

from _common import (
    DEFAULT_MNIST,
    machine_description,
    matmul_peak,
    print_table,
    stage_flops,
    step_product_seconds,
)
from stackae import StackedAutoencoderClassifier, get_num_threads
from stackae.datasets import load_mnist
from stackae.presets import FAST, UFLDL


def warm_up(data, params: dict):
    """An untimed fit of the same recipe on 512 rows, one iteration a stage: a process
    pays once for loading Numba's compiled kernels from its cache and BLAS's first
    calls (about 0.3-0.5 s), which belong to neither the products nor a step. Returns
    the small model (the same network, for timing a step's products before the fit)
    and the seconds it took."""
    start = time.perf_counter()
    short = dict(params, pretrain_max_iter=1, output_max_iter=1, finetune_max_iter=1, verbose=0)
    small = StackedAutoencoderClassifier(**short, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        small.fit(data.X_train[:512], data.y_train[:512])
    return small, time.perf_counter() - start


def products_alone(before: dict, after: dict, clf) -> dict:
    """Each stage's products alone: one step's, the mean of its timings just before and
    just after the fit (as the floor takes the peak's), times the stage's steps."""
    return {s: 0.5 * (before[s] + after[s]) * clf.stage_profile_[s]["evaluations"] for s in after}


def run(data, params: dict, verbose: bool, random_state: int):
    """Fit on the MNIST training images; returns the model, accuracies and the fit's wall time."""
    clf = StackedAutoencoderClassifier(**params, random_state=random_state, verbose=int(verbose))
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # a fixed iteration budget is the protocol
        clf.fit(data.X_train, data.y_train)
    wall = time.perf_counter() - start
    before = float(np.mean(clf.predict(data.X_test, pretrained=True) == data.y_test))
    after = clf.score(data.X_test, data.y_test)
    return clf, before, after, wall


def breakdown(clf, wall: float, n_samples: int, peak: float) -> dict:
    """Floor, evaluation, optimizer and other seconds of a fit (peak in GFLOP/s)."""
    flops = stage_flops(clf, n_samples)
    evaluations = sum(p["evaluation_seconds"] for p in clf.stage_profile_.values())
    stages = sum(clf.stage_seconds_.values())
    floor = sum(flops.values()) / (peak * 1e9)
    return {
        "floor": floor,
        "evaluations": evaluations,
        "evaluation_rate": sum(flops.values()) / evaluations / 1e9 if evaluations else float("nan"),
        "optimizer": stages - evaluations,
        "other": wall - stages,
        "flops": flops,
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mnist", default=DEFAULT_MNIST, help="folder with the four MNIST IDX files")
    parser.add_argument("--recipe", choices=["ufldl", "fast", "both"], default="both")
    parser.add_argument("--max-iter", type=int, default=400, help="L-BFGS iterations a stage (ufldl recipe)")
    parser.add_argument("--history", type=int, nargs="+", default=[10], help="L-BFGS correction pairs (ufldl)")
    parser.add_argument("--batch-size", type=int, default=None, help="the fast recipe's batch size (default 256)")
    parser.add_argument("--learning-rate", type=float, default=None, help="the fast recipe's (default 3e-3)")
    parser.add_argument("--random-state", type=int, default=0)
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args(argv)
    print(f"machine: {machine_description()}; stackae threads: {get_num_threads()}")
    peak_before = matmul_peak(np.float32)
    load_start = time.perf_counter()
    data = load_mnist(args.mnist, dtype=np.float32)
    load_seconds = time.perf_counter() - load_start
    runs = []
    if args.recipe in ("ufldl", "both"):
        it = args.max_iter
        for history in args.history:
            params = dict(UFLDL, pretrain_max_iter=it, output_max_iter=it, finetune_max_iter=it, lbfgs_history=history)
            runs.append((f"UFLDL protocol: L-BFGS {it} it a stage, history {history}", params))
    if args.recipe in ("fast", "both"):
        fast = dict(FAST)
        name = "fast recipe: Adam 3+3+3+20 epochs"
        for key in ("batch_size", "learning_rate"):
            if getattr(args, key) is not None:
                fast[key] = getattr(args, key)
                name += f", {key.replace('_', ' ')} {getattr(args, key):g}"
        runs.append((name, fast))
    rows, stage_rows, peaks, warm = [], [], [], []
    for name, params in runs:
        small, seconds = warm_up(data, params)
        warm.append(seconds)
        minibatch = params["solver"] != "lbfgs"
        n = data.X_train.shape[0]
        # a minibatch recipe's step products on their own, at its batch size, just before
        # the fit (and on one BLAS thread: what OpenBLAS's own threading gives at them)
        steps_before = step_product_seconds(small, n) if minibatch else {}
        steps_before_1 = step_product_seconds(small, n, blas_threads=1) if minibatch else {}
        clf, before, after, wall = run(data, params, not args.quiet, args.random_state)
        # the peak moves by 10% over minutes on a shared machine: each run's is the mean
        # of the peaks measured just before and just after it
        peak_after = matmul_peak(np.float32)
        peak = 0.5 * (peak_before + peak_after)
        peaks.append(f"{peak_before:.1f} -> {peak_after:.1f}")
        peak_before = peak_after
        b = breakdown(clf, wall, data.X_train.shape[0], peak)
        # ... and just after it: a run's products alone take the mean of the two
        alone, alone_1 = {}, {}
        if minibatch:
            alone = products_alone(steps_before, step_product_seconds(clf, n), clf)
            alone_1 = products_alone(steps_before_1, step_product_seconds(clf, n, blas_threads=1), clf)
        rows.append(
            [
                name,
                f"{100 * before:.2f}%",
                f"{100 * after:.2f}%",
                f"{wall:.1f} s",
                f"{b['floor']:.1f} s",
                f"{wall / b['floor']:.2f}x",
                f"{b['evaluations']:.1f} s ({100 * b['evaluation_rate'] / peak:.0f}% of peak)",
                f"{b['optimizer']:.1f} s",
                f"{b['other']:.1f} s",
                f"{sum(alone.values()):.1f} s ({sum(alone.values()) / b['floor']:.2f}x)" if alone else "-",
                f"{wall / sum(alone.values()):.2f}x" if alone else "-",
            ]
        )
        for stage, seconds in clf.stage_seconds_.items():
            profile = clf.stage_profile_[stage]
            stage_rows.append(
                [
                    name.split(":")[0] + (f" h{params.get('lbfgs_history')}" if params["solver"] == "lbfgs" else ""),
                    stage,
                    str(clf.n_iter_[stage]),
                    str(profile["evaluations"]),
                    f"{seconds:.1f}",
                    f"{profile['evaluation_seconds']:.1f}",
                    f"{b['flops'][stage] / (peak * 1e9):.1f}",
                    f"{alone[stage]:.1f}" if alone else "-",
                    f"{alone_1[stage]:.1f} ({alone_1[stage] / alone[stage]:.2f}x)" if alone else "-",
                ]
            )
    rows.append(["UFLDL's reported result (minFunc L-BFGS, MATLAB)", "87.7%", "97.6%", *["-"] * 8])
    print(
        f"float32 matrix-product peak (4000 x 4000, {get_num_threads()} threads) before and after each run: "
        f"{', '.join(peaks)} GFLOP/s (a run's floor takes their mean); "
        f"loading MNIST: {load_seconds:.1f} s, the warm-up fits: {', '.join(f'{w:.1f}' for w in warm)} s "
        "(neither in the fit's time)"
    )
    print_table(
        [
            "recipe",
            "test acc. before",
            "after fine-tuning",
            "fit wall time",
            "floor",
            "wall / floor",
            "evaluations",
            "optimizer",
            "other",
            "products alone (/ floor)",
            "wall / products alone",
        ],
        rows,
    )
    print()
    print_table(
        [
            "run",
            "stage",
            "iterations",
            "evaluations",
            "seconds",
            "in evaluations",
            "floor (s)",
            "products alone (s)",
            "on 1 BLAS thread (s, / all threads)",
        ],  # fmt: skip
        stage_rows,
    )


if __name__ == "__main__":
    main()
