"""One evaluation of each objective on a Dask cluster against the in-process NumPy path
with the same total cores, and a minibatch fit streamed from a file on disk.

Data: the 60,000 MNIST training images, and a generated set of ``--rows`` (default
1,000,000) rows: MNIST training images shifted by up to 2 pixels and given a little
noise, written once to a float32 ``.npy`` file (``--workdir``; about 3.1 GB) and read
from there: memory-mapped in process, chunk by chunk by the workers.

For each data set and objective (the sparse autoencoder 784-200-784 and the stack
784-200-200-10, float32) it prints the median seconds of one evaluation in process
with 1 and 2 threads and on LocalClusters of 1 and 2 single-threaded worker processes,
the scaling efficiency (in-process seconds over cluster seconds, same cores) and the
bytes sent per evaluation (the parameters sent with their task and copied between
workers, partial results moved between workers and to the client). Then a minibatch
fit (Adam, one epoch) streamed from the file in process, with its peak resident memory
against the file's size.

    python benchmarks/cluster.py [--mnist DIR] [--rows 1000000] [--workdir /tmp] [--repeats 3]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from _common import DEFAULT_MNIST, flops_autoencoder, flops_stack, machine_description, median_seconds, print_table
from stackae import init_theta, set_num_threads
from stackae._rows._dask import STATS
from stackae.datasets import load_mnist
from stackae.objectives import sparse_autoencoder_cost, stack_cost

AE = dict(alpha=3e-3, sparsity_target=0.1, sparsity_weight=3.0)


def generate(mnist: np.ndarray, labels: np.ndarray, rows: int, path: Path, seed: int = 0) -> None:
    """MNIST images shifted by up to 2 pixels each way, plus N(0, 0.05) noise, clipped to
    [0, 1]: ``rows`` of them written to ``path`` (float32 .npy) and labels beside it."""
    rng = np.random.default_rng(seed)
    X = np.lib.format.open_memmap(path.with_suffix(".tmp.npy"), mode="w+", dtype=np.float32, shape=(rows, 784))
    y = np.empty(rows, dtype=np.int64)
    step = 50_000
    for lo in range(0, rows, step):
        hi = min(lo + step, rows)
        pick = rng.integers(0, mnist.shape[0], hi - lo)
        images = mnist[pick].reshape(-1, 28, 28)
        dx, dy = rng.integers(-2, 3, 2)
        images = np.roll(np.roll(images, dx, axis=2), dy, axis=1)
        images = images + rng.normal(0, 0.05, images.shape).astype(np.float32)
        X[lo:hi] = np.clip(images.reshape(-1, 784), 0.0, 1.0)
        y[lo:hi] = labels[pick]
    X.flush()
    del X
    os.replace(path.with_suffix(".tmp.npy"), path)
    np.save(path.with_name(path.stem + "-labels.npy"), y)


def objectives(X, y):
    theta_ae = init_theta((784, 200, 784), 0)
    theta_st = init_theta((784, 200, 200, 10), 0)
    return {
        "sparse AE 784-200-784": lambda: sparse_autoencoder_cost(theta_ae, X, 200, **AE),
        "stack 784-200-200-10": lambda: stack_cost(theta_st, X, y, (200, 200), 10, alpha=1e-4),
    }


def in_process(X, y, threads: int, repeats: int) -> dict:
    set_num_threads(threads)
    try:
        return {name: median_seconds(f, repeats) for name, f in objectives(X, y).items()}
    finally:
        set_num_threads(None)


def worker_bytes(client) -> int:
    """Bytes the workers have sent each other (and the client) so far."""
    return sum(client.run(lambda dask_worker: dask_worker.transfer_outgoing_bytes_total).values())


def on_cluster(source, y, workers: int, repeats: int) -> tuple[dict, dict]:
    """Seconds and bytes per evaluation on a LocalCluster of ``workers`` single-threaded
    processes; ``source`` is an array or a .npy path the workers read."""
    from distributed import wait

    from stackae.cluster import connect, dask_rows

    with connect(workers=workers, threads_per_worker=1) as client:
        X = dask_rows(source).persist()
        wait(X)
        seconds, sent = {}, {}
        for name, f in objectives(X, y).items():
            seconds[name] = median_seconds(f, repeats)
            moved, sent_before = worker_bytes(client), STATS["sent_bytes"]
            cost, grad = f()
            # the parameters sent with their task + what the workers sent each other (their
            # copies of the parameters, partial results) and the client
            sent[name] = (STATS["sent_bytes"] - sent_before) + (worker_bytes(client) - moved)
        return seconds, sent


def streamed_fit_rss(path: Path, labels: Path) -> tuple[float, float, float]:
    """Peak resident memory (MiB) and seconds of a one-epoch Adam fit streamed from the
    memory-mapped file, in a fresh process; and that process's peak before the fit (its
    imports). Linux's VmHWM of the process, which (unlike getrusage's maximum) does not
    inherit the parent's peak."""
    code = f"""
import time, warnings, numpy as np
warnings.simplefilter("ignore")
from stackae import SoftmaxRegression

def peak_mib():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024

X = np.load({str(path)!r}, mmap_mode="r"); y = np.load({str(labels)!r})
base = peak_mib()
start = time.perf_counter()
SoftmaxRegression(solver="adam", learning_rate=1e-3, batch_size=256, max_iter=1, random_state=0).fit(X, y)
print(peak_mib(), time.perf_counter() - start, base)
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    peak, seconds, base = map(float, out.stdout.split())
    return peak, seconds, base


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mnist", default=DEFAULT_MNIST)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--workdir", default=tempfile.gettempdir())
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    print(f"machine: {machine_description()}")
    data = load_mnist(args.mnist, dtype=np.float32)
    big = Path(args.workdir) / f"stackae-mnist-{args.rows}.npy"
    if not big.exists():
        start = time.perf_counter()
        generate(data.X_train, data.y_train, args.rows, big)
        print(f"generated {big} ({big.stat().st_size / 2**30:.2f} GiB) in {time.perf_counter() - start:.0f} s")
    big_labels = big.with_name(big.stem + "-labels.npy")
    small = Path(args.workdir) / "stackae-mnist-60000.npy"
    if not small.exists():
        np.save(small, data.X_train)
    sets = [
        ("MNIST 60,000", data.X_train, data.y_train, small),
        (f"generated {args.rows:,} (.npy on disk)", np.load(big, mmap_mode="r"), np.load(big_labels), big),
    ]
    rows = []
    for set_name, X, y, source in sets:
        m = X.shape[0]
        local = {t: in_process(X, y, t, args.repeats) for t in (1, 2)}
        for workers in (1, 2):
            seconds, sent = on_cluster(source, y, workers, args.repeats)
            for name in seconds:
                flops = flops_autoencoder(m, 784, 200) if "AE" in name else flops_stack(m, (784, 200, 200, 10))
                rows.append(
                    [
                        set_name,
                        name,
                        f"{workers} x 1 thread",
                        f"{local[workers][name]:.3f}",
                        f"{seconds[name]:.3f}",
                        f"{100 * local[workers][name] / seconds[name]:.0f}%",
                        f"{flops / seconds[name] / 1e9:.0f}",
                        f"{sent[name] / 2**20:.1f} MiB",
                    ]
                )
    print_table(
        ["data", "evaluation", "workers", "in process (s)", "cluster (s)", "efficiency", "cluster GFLOP/s", "sent"],
        rows,
    )
    peak, seconds, base = streamed_fit_rss(big, big_labels)
    size = big.stat().st_size / 2**20
    print()
    print_table(
        ["streamed minibatch fit (Adam, 1 epoch, from the .npy)", "seconds", "peak resident", "of the file's size"],
        [
            [
                f"SoftmaxRegression on {args.rows:,} x 784 float32 ({size:.0f} MiB)",
                f"{seconds:.1f}",
                f"{peak:.0f} MiB ({base:.0f} MiB before the fit)",
                f"{100 * peak / size:.1f}%",
            ]
        ],
    )


if __name__ == "__main__":
    main()
