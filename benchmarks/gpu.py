"""stackae on a GPU (PyTorch tensors on the card) against PyTorch autograd and against its
own matrix products, then the UFLDL protocol and the fast recipe end to end.

In one run, on one device:

1. the float32 matrix-product peak (an 8192 x 8192 product; 4000 on a CPU);
2. one evaluation of the sparse autoencoder 784-200-784 and of the stack 784-200-200-10
   on the 60,000 MNIST training images: stackae, PyTorch autograd (the straightforward
   program), and the objective's matrix products alone (same shapes, same order), with
   the ratios stackae/autograd and stackae/products;
3. the UFLDL protocol (L-BFGS on the device, ``--max-iter`` iterations a stage) and the
   fast recipe (Adam 3+3+3+20 epochs), each with wall time (data on the device before
   the clock starts) and test accuracy before and after fine-tuning.

``--tf32`` lets the matrix products use TF32 (``torch.backends.cuda.matmul.allow_tf32``)
and reports its accuracy beside float32's. On a CPU (``--device cpu``, for testing the
script) the same runs happen on CPU tensors.

    python benchmarks/gpu.py [--device cuda] [--mnist DIR] [--max-iter 400] [--repeats 20] [--tf32]
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning

from _common import DEFAULT_MNIST, autograd_objectives, flops_autoencoder, flops_stack, median_seconds, print_table
from stackae import StackedAutoencoderClassifier, init_theta
from stackae.datasets import load_mnist
from stackae.objectives import sparse_autoencoder_cost, stack_cost
from stackae.presets import FAST, UFLDL

AE = dict(alpha=3e-3, sparsity_target=0.1, sparsity_weight=3.0)


def synchronize(torch, device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed(torch, device, fun, repeats: int) -> float:
    """Median seconds of ``fun()``, the device synchronised around each call."""
    return median_seconds(fun, repeats, lambda: synchronize(torch, device))


def device_name(torch, device) -> str:
    if device.type == "cuda":
        props = torch.cuda.get_device_properties(device)
        return f"{props.name} ({props.total_memory / 2**30:.0f} GiB), CUDA {torch.version.cuda}"
    from _common import cpu_model

    return f"CPU: {cpu_model()}, {torch.get_num_threads()} threads"


def products_alone(torch, X, theta_ae, theta_st):
    """Each objective's matrix products only, same shapes and order as its evaluation."""
    m, n, h = X.shape[0], 784, 200
    W1, W2 = theta_ae[: n * h].view(n, h), theta_ae[n * h : 2 * n * h].view(h, n)
    H = torch.rand(m, h, device=X.device, dtype=X.dtype)
    D3 = torch.rand(m, n, device=X.device, dtype=X.dtype)

    def ae():
        X @ W1, H @ W2, H.T @ D3, D3 @ W2.T, X.T @ H  # noqa: B018 - the work is the point

    sizes = (784, 200, 200, 10)
    offset, weights = 0, []
    for a, b in zip(sizes[:-1], sizes[1:]):
        weights.append(theta_st[offset : offset + a * b].view(a, b))
        offset += a * b
    acts = [X] + [torch.rand(m, s, device=X.device, dtype=X.dtype) for s in sizes[1:]]

    def stack():
        for layer, W in enumerate(weights):  # forward
            acts[layer] @ W  # noqa: B018
        for layer in range(len(weights) - 1, -1, -1):  # gradients, then deltas but the input's
            acts[layer].T @ acts[layer + 1]  # noqa: B018
            if layer:
                acts[layer + 1] @ weights[layer].T  # noqa: B018

    return ae, stack


def run_recipe(torch, device, data, params: dict, random_state: int):
    X = torch.from_numpy(data.X_train).to(device)
    y = torch.from_numpy(data.y_train).to(device)
    synchronize(torch, device)
    clf = StackedAutoencoderClassifier(**params, random_state=random_state)
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(X, y)
    synchronize(torch, device)
    wall = time.perf_counter() - start
    before = float(np.mean(clf.predict(data.X_test, pretrained=True) == data.y_test))
    return wall, before, clf.score(data.X_test, data.y_test), clf


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--mnist", default=DEFAULT_MNIST)
    parser.add_argument("--samples", type=int, default=60000, help="training images used (all by default)")
    parser.add_argument("--max-iter", type=int, default=400, help="L-BFGS iterations a stage (UFLDL protocol)")
    parser.add_argument("--fast-epochs", type=int, nargs=4, default=[3, 3, 3, 20], metavar="E")
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--tf32", action="store_true", help="also run the recipes with TF32 matrix products")
    args = parser.parse_args(argv)
    import torch

    device = torch.device(args.device)
    torch.backends.cuda.matmul.allow_tf32 = False
    print(f"device: {device_name(torch, device)}; torch {torch.__version__}")
    data = load_mnist(args.mnist, dtype=np.float32)
    data.X_train, data.y_train = data.X_train[: args.samples], data.y_train[: args.samples]

    size = 8192 if device.type == "cuda" else 2000
    A = torch.rand(size, size, device=device)
    peak = 2 * size**3 / timed(torch, device, lambda: A @ A, max(3, args.repeats // 4)) / 1e9
    A = None  # free the memory

    X = torch.from_numpy(data.X_train).to(device)
    y = torch.from_numpy(data.y_train).to(device)
    m = X.shape[0]
    theta_ae = torch.from_numpy(init_theta((784, 200, 784), 0, np.float32)).to(device)
    theta_st = torch.from_numpy(init_theta((784, 200, 200, 10), 0, np.float32)).to(device)
    grad_ae, grad_st = autograd_objectives(X, y)
    alone_ae, alone_st = products_alone(torch, X, theta_ae, theta_st)
    evaluations = {
        "sparse AE 784-200-784": (
            lambda: sparse_autoencoder_cost(theta_ae, X, 200, **AE),
            lambda: grad_ae(theta_ae),
            alone_ae,
            flops_autoencoder(m, 784, 200),
        ),
        "stack 784-200-200-10": (
            lambda: stack_cost(theta_st, X, y, (200, 200), 10, alpha=1e-4),
            lambda: grad_st(theta_st),
            alone_st,
            flops_stack(m, (784, 200, 200, 10)),
        ),
    }
    rows = []
    for name, (ours, autograd, alone, flops) in evaluations.items():
        t_ours, t_auto, t_alone = (timed(torch, device, f, args.repeats) for f in (ours, autograd, alone))
        rows.append(
            [
                name,
                f"{1e3 * t_ours:.2f}",
                f"{1e3 * t_auto:.2f}",
                f"{1e3 * t_alone:.2f}",
                f"{t_ours / t_auto:.2f}",
                f"{t_ours / t_alone:.2f}",
                f"{flops / t_ours / 1e12:.1f}",
            ]
        )
    rows.append(["matrix-product peak (float32)", "", "", f"{size}^2", "", "", f"{peak / 1e3:.1f}"])
    print_table(
        [
            f"evaluation, {m:,} MNIST images, float32",
            "stackae (ms)",
            "autograd (ms)",
            "products alone (ms)",
            "/ autograd",
            "/ products",
            "stackae TFLOP/s",
        ],
        rows,
    )

    it = args.max_iter
    recipes = [
        (
            f"UFLDL protocol, L-BFGS {it} it a stage",
            dict(UFLDL, pretrain_max_iter=it, output_max_iter=it, finetune_max_iter=it),
        ),
        (
            "fast recipe, Adam " + "+".join(map(str, args.fast_epochs)) + " epochs",
            dict(
                FAST,
                pretrain_max_iter=args.fast_epochs[0],
                output_max_iter=args.fast_epochs[2],
                finetune_max_iter=args.fast_epochs[3],
            ),
        ),
    ]
    precisions = [("float32", False)] + ([("TF32", True)] if args.tf32 else [])
    results = []
    for precision, tf32 in precisions:
        torch.backends.cuda.matmul.allow_tf32 = tf32
        for name, params in recipes:
            wall, before, after, clf = run_recipe(torch, device, data, params, 0)
            results.append(
                [
                    name,
                    precision,
                    f"{wall:.1f} s",
                    f"{100 * before:.2f}%",
                    f"{100 * after:.2f}%",
                    " + ".join(f"{s} {v:.1f}s" for s, v in clf.stage_seconds_.items()),
                ]
            )
    torch.backends.cuda.matmul.allow_tf32 = False
    print()
    print_table(["recipe", "matrix products", "wall time", "test acc. before", "after fine-tuning", "stages"], results)


if __name__ == "__main__":
    main()
