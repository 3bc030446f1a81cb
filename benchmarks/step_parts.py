"""Where a minibatch step's time goes: the fast recipe's fine-tuning step, part by part.

One step of the ``fast`` preset's fine-tuning (784-200-200-10 sigmoid, softmax, Adam,
batches of 256 float32 MNIST rows) is cut into what it does, each part timed alone on
the same arrays (median of ``--repeats`` runs of ``--steps`` steps):

* the batch's gather (``take_rows`` of 256 sorted rows);
* the evaluation (``stack_cost_grad`` on the gathered rows: products, element-wise
  kernels, the head, the gradient's assembly);
* the evaluation's matrix products alone (its shapes and layouts, BLAS on all
  threads), and on one BLAS thread;
* the Adam step (stackae's fused kernel where Numba is installed), with the parameters
  in cache and pushed out of it (as an evaluation leaves them), and split over two
  threads.

"The rest of the evaluation" is the evaluation less its products alone. Then a whole
step as a fit runs it (gather, evaluation and Adam one after the other, on parameters
the steps update), against the sum of its parts timed alone and against its products,
and those products timed where they run in it: a step reads its batch in its first
product and again in its last, with the other arrays through the caches in between,
where the replay keeps everything in cache. A second
table times the element-wise kernels of the fast recipe's steps alone, in nanoseconds an
element, where Numba is installed: the compiled ones against the NumPy kernels on the
same arrays (a hidden layer's bias and sigmoid, 256 x 200; its delta; the softmax head,
256 x 10; the sparse autoencoder's output layer, 256 x 784), each the median of
``--repeats`` runs. Then the machine it ran on.

    python benchmarks/step_parts.py [--mnist DIR] [--steps 200] [--repeats 5]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from _common import DEFAULT_MNIST, _product_chain, machine_description, print_table, step_products, timed_products


def _median_ms(fun, steps: int, repeats: int, before=None) -> float:
    fun(0)
    times = []
    for _ in range(repeats):
        total = 0.0
        for i in range(steps):
            if before is not None:
                before()
            start = time.perf_counter()
            fun(i)
            total += time.perf_counter() - start
        times.append(total / steps)
    return 1e3 * float(np.median(times))


def _kernel_rows(steps: int, repeats: int) -> list:
    """Each element-wise kernel of a step on its own arrays, compiled against NumPy's."""
    from stackae._rows._compiled import CompiledKernels
    from stackae._rows._numpy_kernels import NumpyKernels

    rng = np.random.default_rng(2)
    f = np.float32
    Z0 = rng.normal(0, 3, (256, 200)).astype(f)
    A = (1 / (1 + np.exp(-Z0))).astype(f)
    S0 = rng.normal(0, 3, (256, 10)).astype(f)
    y = rng.integers(0, 10, 256)
    H, W2, b2 = A, rng.normal(0, 0.1, (200, 784)).astype(f), np.zeros(784, f)
    T = rng.random((256, 784), dtype=f)
    b = rng.normal(0, 1, 200).astype(f)
    Z, S = Z0.copy(), S0.copy()
    kernels = {
        "a hidden layer's bias and sigmoid": ((256, 200), lambda k: k.activate("sigmoid", Z)),
        "a hidden layer's delta and its column sums": ((256, 200), lambda k: k.hidden_delta("sigmoid", Z, A, 1.0, b)),
        "the softmax head: cost, delta, column sums": ((256, 10), lambda k: k.softmax_delta(S, y, 1 / 256)),
        # the products inside it are timed alone and taken out below
        "the autoencoder's output layer (sigmoid, squared error)": (
            (256, 784),
            lambda k: k.squared_error_delta("sigmoid", H, W2, b2, T, "Xhat"),
        ),
    }

    def refill():  # the kernels work in place: each call starts from the same numbers
        Z[...] = Z0
        S[...] = S0

    product = np.empty((256, 784), f)
    products = _median_ms(lambda i: np.matmul(H, W2, out=product), steps, repeats, before=refill)
    rows = []
    for name, (shape, call) in kernels.items():
        size = shape[0] * shape[1]
        times = []
        for k in (CompiledKernels(), NumpyKernels()):
            ms = _median_ms(lambda i, k=k, call=call: call(k), steps, repeats, before=refill)
            if shape == (256, 784):
                ms -= products
            times.append(1e6 * ms / size)
        ratio = f"{times[1] / times[0]:.2f}x"
        rows.append([name, f"{shape[0]} x {shape[1]}", f"{times[0]:.2f}", f"{times[1]:.2f}", ratio])
    return rows


def main(argv=None):
    from threadpoolctl import threadpool_limits

    from stackae._params import init_theta
    from stackae._rows import compiled_kernels, rows_of
    from stackae._rows._numpy import _pool
    from stackae.datasets import load_mnist
    from stackae.estimators._data import take_rows
    from stackae.heads import SOFTMAX
    from stackae.objectives import StackSpec, stack_cost_grad
    from stackae.optim import _Adam

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mnist", default=DEFAULT_MNIST, help="folder with the four MNIST IDX files")
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)

    data = load_mnist(args.mnist, dtype=np.float32)
    X, y = data.X_train, data.y_train.astype(np.int64)
    rng = np.random.RandomState(0)
    sizes, batch = (784, 200, 200, 10), 256
    spec = StackSpec(sizes, head=SOFTMAX)
    theta = init_theta(sizes, rng).astype(np.float32)
    batches = [np.sort(rng.permutation(X.shape[0])[:batch]) for _ in range(args.steps)]
    gathered = [take_rows(X, index) for index in batches]
    steps, repeats = args.steps, args.repeats

    gather = _median_ms(lambda i: take_rows(X, batches[i]), steps, repeats)
    evaluation = _median_ms(
        lambda i: stack_cost_grad(rows_of(gathered[i], y[batches[i]]), theta, spec, 1e-4, (2,)), steps, repeats
    )
    products = _product_chain(step_products("stack", sizes, batch), np.float32, np.random.default_rng(0))
    alone = _median_ms(lambda i: products(), steps, repeats)
    with threadpool_limits(1, user_api="blas"):
        alone_1 = _median_ms(lambda i: products(), steps, repeats)

    adam = _Adam(theta.copy(), 1e-3)
    params, grad = theta.copy(), theta * 1e-3
    other = [np.random.default_rng(1).random(2_000_000, dtype=np.float32) for _ in range(2)]

    def evict():  # 16 MB written: the parameters leave the cache, as an evaluation's passes leave them
        other[0][:] = other[1]

    warm = _median_ms(lambda i: adam.step(params, grad, 1e-3), steps, repeats)
    cold = _median_ms(lambda i: adam.step(params, grad, 1e-3), steps, repeats, before=evict)
    stepper, live = _Adam(theta.copy(), 1e-3), theta.copy()

    def whole(i):  # gather, evaluate, update, one after the other on the same parameters
        rows = rows_of(take_rows(X, batches[i]), y[batches[i]])
        _, g = stack_cost_grad(rows, live, spec, 1e-4, (2,))
        stepper.step(live, g, 1e-3)

    whole_step = _median_ms(whole, steps, repeats)
    in_place = []
    for _ in range(repeats):  # the same steps once more, their products timed where they run
        totals = [0.0]
        with timed_products(totals):
            for i in range(steps):
                whole(i)
        in_place.append(1e3 * totals[0] / steps)
    in_place = float(np.median(in_place))
    rows = [
        ["the batch's gather (256 rows)", f"{gather:.3f}", ""],
        ["the evaluation (stack_cost_grad)", f"{evaluation:.3f}", ""],
        ["  its matrix products alone, BLAS on all threads", f"{alone:.3f}", f"{alone / evaluation:.0%}"],
        ["  the rest of the evaluation", f"{evaluation - alone:.3f}", f"{(evaluation - alone) / evaluation:.0%}"],
        ["  its matrix products alone, 1 BLAS thread", f"{alone_1:.3f}", f"{alone_1 / alone:.2f}x all threads"],
        ["the Adam step, parameters in cache", f"{warm:.3f}", ""],
        ["the Adam step, parameters out of cache", f"{cold:.3f}", ""],
        ["a whole step as a fit runs it (gather, evaluation, Adam)", f"{whole_step:.3f}", ""],
        [
            "  against its parts timed alone (gather + evaluation + Adam out of cache)",
            "",
            f"{whole_step / (gather + evaluation + cold):.2f}x",
        ],
        ["  against its products alone", "", f"{whole_step / alone:.2f}x"],
        ["  its products as they run in it (timed in place)", f"{in_place:.3f}", f"{in_place / alone:.2f}x alone"],
    ]
    compiled = compiled_kernels()
    if compiled is not None:
        from stackae._rows._compiled import _adam

        t = np.float32
        scalars = (t(0.9), t(0.999), t(0.1), t(0.001), t(1e-8), t(1e-3))
        m, v, half, pool = adam.m, adam.v, theta.size // 2, _pool(2)

        def two_threads(i):
            other_half = pool.submit(_adam, params[half:], m[half:], v[half:], grad[half:], *scalars)
            _adam(params[:half], m[:half], v[:half], grad[:half], *scalars)
            other_half.result()

        split = _median_ms(two_threads, steps, repeats, before=evict)
        rows.append(["the Adam step on two threads, out of cache", f"{split:.3f}", f"{split / cold:.2f}x one"])
    print(
        f"a fine-tuning step of the fast recipe, part by part ({theta.size:,} float32 parameters; "
        f"median of {repeats} runs of {steps} steps)"
    )
    print_table(["part", "ms a step", "share / ratio"], rows)
    print()
    if compiled is not None:
        print(f"the element-wise kernels of a step alone (float32; median of {repeats} runs of {steps} calls)")
        print_table(
            ["kernel", "shape", "compiled (ns an element)", "NumPy kernels (ns)", "NumPy / compiled"],
            _kernel_rows(steps, repeats),
        )
        print()
    print("machine: " + machine_description())


if __name__ == "__main__":
    main()
