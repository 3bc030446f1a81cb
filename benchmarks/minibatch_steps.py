"""Minibatch fine-tuning steps: stackae against the same training written in PyTorch.

The ``best`` preset's fine-tuning (ReLU units, dropout 0.2 on the input and 0.5 on the
hidden layers, max-norm 3 on the hidden units' incoming weights, SGD with Nesterov
momentum 0.9 at learning rate 0.1, batches of 128, a constant rate here) for
``--epochs`` epochs over the first ``--samples`` MNIST training images, timed for:

1. stackae on NumPy arrays (``--device cpu``; its default path, compiled kernels where
   Numba is installed);
2. stackae on PyTorch tensors on ``--device`` (CPU tensors, or ``cuda``);
3. PyTorch: ``nn.Sequential`` of ``Linear``/``ReLU``/``Dropout``, autograd,
   ``torch.optim.SGD(nesterov=True)`` and ``torch.renorm`` after each step: what a user
   would write, on the same device as 2.

Each row is the best of ``--repeats`` runs (milliseconds a step), with its ratio to
PyTorch's measured in the same run. ``--hidden 16 16 --features 16`` (the first 16
pixels) makes the arithmetic negligible, so the figures are each program's work on the
host per step: what a GPU waits for when steps are small. ``--adversarial EPS`` adds
stackae with adversarial training (perturbation ``EPS``), whose steps make two passes.

    python benchmarks/minibatch_steps.py [--device cpu|cuda] [--hidden 1024 1024] [--features 784] [--epochs 1]
        [--adversarial 0.1]
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


def synchronize(torch, device):
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize(device)


def stackae_seconds(X, y, hidden, epochs: int, adversarial: float = 0.0) -> float:
    clf = StackedAutoencoderClassifier.from_preset(
        "best",
        hidden_layer_sizes=tuple(hidden),
        adversarial=adversarial,
        pretrain_max_iter=0,
        output_max_iter=0,
        finetune_max_iter=epochs,
        learning_rate_schedule="constant",
        random_state=0,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(X, y)  # ends with the weights on the host: nothing left queued on a card
    return clf.stage_seconds_["finetune"]


def pytorch_seconds(torch, X, y, hidden, epochs: int, device) -> float:
    """The same fine-tuning as a PyTorch user writes it (the layers' default start)."""
    nn = torch.nn
    torch.manual_seed(0)
    sizes = (X.shape[1], *hidden)
    layers = [nn.Dropout(0.2)]
    for n_in, n_out in zip(sizes[:-1], sizes[1:]):
        layers += [nn.Linear(n_in, n_out), nn.ReLU(), nn.Dropout(0.5)]
    layers.append(nn.Linear(sizes[-1], 10))
    model = nn.Sequential(*layers).to(device=device, dtype=X.dtype)
    hidden_weights = [m.weight for m in model if isinstance(m, nn.Linear)][:-1]
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, nesterov=True)
    m, batch = X.shape[0], 128
    synchronize(torch, device)
    start = time.perf_counter()
    for _ in range(epochs):
        order = torch.randperm(m, device=device)
        for lo in range(0, m, batch):
            rows = order[lo : lo + batch]
            optimizer.zero_grad(set_to_none=True)
            loss = nn.functional.cross_entropy(model(X.index_select(0, rows)), y.index_select(0, rows))
            loss.backward()
            optimizer.step()
            with torch.no_grad():
                for W in hidden_weights:  # max-norm 3 on each hidden unit's incoming weights
                    W.copy_(torch.renorm(W, 2, 0, 3.0))
    synchronize(torch, device)
    return time.perf_counter() - start


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cpu", help="where the tensors live: 'cpu' or 'cuda' / 'cuda:N'")
    parser.add_argument("--mnist", default=DEFAULT_MNIST)
    parser.add_argument("--samples", type=int, default=60000)
    parser.add_argument("--hidden", type=int, nargs="+", default=[1024, 1024])
    parser.add_argument("--features", type=int, default=784, help="the first N pixels of each image")
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--adversarial", type=float, default=0.0, help="also time adversarial training (NumPy)")
    args = parser.parse_args(argv)
    import torch

    print(f"machine: {machine_description()}; stackae threads: {get_num_threads()}; torch {torch.__version__}")
    if torch.device(args.device).type == "cuda":
        print(f"device: {torch.cuda.get_device_name(args.device)}")
    data = load_mnist(args.mnist, dtype=np.float32)
    X_np = np.ascontiguousarray(data.X_train[: args.samples, : args.features])
    y_np = data.y_train[: args.samples]
    X, y = torch.from_numpy(X_np).to(args.device), torch.from_numpy(y_np).to(args.device)
    steps = args.epochs * -(-X_np.shape[0] // 128)
    pytorch = "PyTorch (autograd, torch.optim.SGD)"
    runs = {
        pytorch: lambda: pytorch_seconds(torch, X, y, args.hidden, args.epochs, args.device),
        f"stackae on torch tensors ({args.device})": lambda: stackae_seconds(X, y, args.hidden, args.epochs),
    }
    if torch.device(args.device).type == "cpu":
        runs["stackae on NumPy arrays"] = lambda: stackae_seconds(X_np, y_np, args.hidden, args.epochs)
    if args.adversarial:
        runs[f"stackae on NumPy arrays, adversarial {args.adversarial:g}"] = lambda: stackae_seconds(
            X_np, y_np, args.hidden, args.epochs, args.adversarial
        )
    best = {name: min(run() for _ in range(args.repeats)) for name, run in runs.items()}
    baseline = best[pytorch]
    widths = "-".join(map(str, (X_np.shape[1], *args.hidden, 10)))
    print_table(
        [f"{widths}, {steps:,} steps of 128 ({args.epochs} epoch(s) of {X_np.shape[0]:,})", "ms a step", "/ PyTorch"],
        [[name, f"{1e3 * seconds / steps:.3f}", f"{seconds / baseline:.2f}"] for name, seconds in best.items()],
    )


if __name__ == "__main__":
    main()
