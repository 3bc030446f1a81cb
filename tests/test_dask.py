"""Training on a Dask cluster: a LocalCluster of 2 worker processes, started and closed
here, on loopback. Objectives on Dask arrays equal NumPy's, L-BFGS fits end where the
NumPy fits end, minibatch fits are the same fits, a worker killed mid-fit does not stop
it."""

from __future__ import annotations

import os
import signal
import threading
import time
import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning

from stackae import SoftmaxRegression, StackedAutoencoderClassifier, init_theta, n_params
from stackae.datasets import load_digits_split
from stackae.gradcheck import relative_difference
from stackae.objectives import softmax_cost, sparse_autoencoder_cost, stack_cost

da = pytest.importorskip("dask.array", reason="dask is not installed (pip install 'stackae[cluster]')")
distributed = pytest.importorskip("distributed")

REL = 1e-12


@pytest.fixture(scope="module")
def client():
    from stackae.cluster import connect

    with connect(workers=2, threads_per_worker=1) as client:
        yield client


@pytest.fixture(scope="module")
def digits():
    return load_digits_split()


def _quietly(est, *args):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return est.fit(*args)


def test_objectives_on_a_dask_array_equal_numpy(client):
    rng = np.random.default_rng(0)
    X = rng.random((700, 9))
    y = rng.integers(0, 3, 700)
    Xd = da.from_array(X, chunks=(180, 9)).persist()
    theta = init_theta((9, 5, 9), 0) + rng.normal(0, 0.1, n_params((9, 5, 9)))
    for kw in (
        dict(alpha=3e-3, sparsity_target=0.1, sparsity_weight=3.0),
        dict(alpha=1e-3, sparsity_target=0.1, sparsity_weight=0.0, activation="tanh", contraction=0.2),
    ):
        ref = sparse_autoencoder_cost(theta, X, 5, **kw)
        got = sparse_autoencoder_cost(theta, Xd, 5, **kw)
        assert got[0] == pytest.approx(ref[0], rel=REL)
        assert relative_difference(got[1], ref[1]) < REL
    theta = rng.normal(0, 0.5, n_params((9, 6, 4, 3)))
    for extra in ({}, {"adversarial": 0.1}):  # the adversarial rows are made on the workers
        kw = dict(alpha=1e-3, decay="all", dropout=(0.1, 0.3, 0.3), dropout_seed=5, **extra)
        ref = stack_cost(theta, X, y, (6, 4), 3, **kw)
        got = stack_cost(theta, Xd, y, (6, 4), 3, **kw)
        assert got[0] == pytest.approx(ref[0], rel=REL)  # dropout masks follow the rows, not the chunks
        assert relative_difference(got[1], ref[1]) < REL
    theta = rng.normal(0, 0.5, n_params((9, 3)))
    ref, got = (
        softmax_cost(theta, X, y, 3, alpha=1e-4),
        softmax_cost(theta, Xd, da.from_array(y, chunks=250), 3, alpha=1e-4),
    )
    assert got[0] == pytest.approx(ref[0], rel=REL)
    assert relative_difference(got[1], ref[1]) < REL


def test_lbfgs_fits_end_where_the_numpy_fits_end(client, digits):
    Xd = da.from_array(digits.X_train, chunks=(400, 64))
    # a convex problem solved to convergence: both end at its one minimum
    ref = _quietly(SoftmaxRegression(alpha=1e-2, tol=1e-9, random_state=0), digits.X_train, digits.y_train)
    got = _quietly(SoftmaxRegression(alpha=1e-2, tol=1e-9, random_state=0), Xd, digits.y_train)
    assert abs(got.loss_ - ref.loss_) < 1e-8
    params = dict(
        hidden_layer_sizes=(16,),
        alpha=1e-4,
        pretrain_max_iter=15,
        output_max_iter=15,
        finetune_max_iter=15,
        random_state=0,
    )
    ref = _quietly(StackedAutoencoderClassifier(**params), digits.X_train, digits.y_train)
    got = _quietly(StackedAutoencoderClassifier(**params), Xd, digits.y_train)
    for stage, cost in ref.stage_costs_.items():
        assert abs(got.stage_costs_[stage] - cost) < 1e-8, stage
    assert all(isinstance(W, np.ndarray) for W in got.coefs_)
    assert got.score(digits.X_test, digits.y_test) == ref.score(digits.X_test, digits.y_test)
    np.testing.assert_array_equal(got.predict(Xd[:50]), ref.predict(digits.X_train[:50]))  # Dask input predicts too


def test_minibatch_fit_on_the_cluster_is_the_numpy_fit(client, digits):
    """Synchronous data-parallel steps: each chunk's share of every batch, summed."""
    params = dict(
        hidden_layer_sizes=(32,),
        alpha=1e-4,
        solver="adam",
        learning_rate=1e-2,
        batch_size=256,
        pretrain_max_iter=2,
        output_max_iter=2,
        finetune_max_iter=12,
        noise="masking",
        noise_level=0.2,
        random_state=0,
    )
    ref = _quietly(StackedAutoencoderClassifier(**params), digits.X_train, digits.y_train)
    got = _quietly(
        StackedAutoencoderClassifier(**params), da.from_array(digits.X_train, chunks=(400, 64)), digits.y_train
    )
    for W_ref, W in zip(ref.coefs_, got.coefs_):
        np.testing.assert_allclose(W, W_ref, rtol=1e-9, atol=1e-12)
    assert got.score(digits.X_test, digits.y_test) >= 0.9


def test_each_chunks_task_is_placed_where_its_rows_are(client):
    """A chunk's task is bound (loosely: any worker if that one dies) to the workers that
    hold the chunk. Without it, the parameters' one holder drew chunks of 196 MiB to
    itself in 4 evaluations of 6 (benchmarks/cluster.py, 1,000,000 rows, 2 workers)."""
    from stackae._rows import rows_of
    from stackae.objectives import _encode_block, autoencoder_spec

    rng = np.random.default_rng(0)
    Xd = da.from_array(rng.random((1600, 64)), chunks=(100, 64)).persist()
    distributed.wait(Xd)
    rows = rows_of(Xd, widths=(16,))
    spec = autoencoder_spec(
        64, 16, tied=False, activation="sigmoid", output_activation="sigmoid", loss="squared",
        sparsity_target=0.1, sparsity_weight=3.0, contraction=0.0,
    )  # fmt: skip
    _, _, kept = rows.map_sum(_encode_block, (rows.asarray(init_theta((64, 16, 64), 0)), spec), keep=True)
    X, _, _, _ = rows._futures(client)
    chunk_at = client.who_has(X)

    def placement(dask_scheduler, keys):
        tasks = dask_scheduler.tasks
        return {k: (sorted(tasks[k].worker_restrictions or ()), tasks[k].loose_restrictions) for k in keys}

    bound = client.run_on_scheduler(placement, keys=[k.key for k in kept])
    for x, k in zip(X, kept):
        assert bound[k.key] == (sorted(chunk_at[x.key]), True)


def test_a_task_with_no_known_worker_is_placed_anywhere(client):
    """The sums of chunks whose worker died before ``who_has`` have no worker to prefer:
    their ``submit`` must not pass ``allow_other_workers`` alone (distributed's
    ValueError ended a fit with a worker killed mid-fit, 1 run in 13)."""
    from stackae._rows._dask import _near

    assert client.submit(sum, [1, 2], pure=False, **_near(None)).result() == 3
    worker = next(iter(client.scheduler_info()["workers"]))
    assert _near([worker]) == {"workers": [worker], "allow_other_workers": True}
    assert client.submit(sum, [1, 2], pure=False, **_near([worker])).result() == 3


def test_parameters_lost_with_their_worker_are_made_again(client, digits):
    """The parameters travel as the data of one task, not as scattered data: when the
    only worker holding them dies, the scheduler runs that task again elsewhere."""
    from stackae._rows import rows_of
    from stackae.objectives import StackSpec, stack_cost_grad

    sizes = (64, 16, 10)
    theta = init_theta(sizes, 0)
    expected = stack_cost(theta, digits.X_train, digits.y_train, (16,), 10, alpha=0.0)
    rows = rows_of(da.from_array(digits.X_train, chunks=(200, 64)), digits.y_train, widths=(16,))
    theta = rows.asarray(theta)
    (held,) = rows._send((theta,), client)  # the future the next evaluation reuses
    distributed.wait(held)
    (holder,) = client.who_has([held])[held.key]
    pid = client.run(os.getpid, workers=[holder])[holder]
    os.kill(pid, signal.SIGKILL)
    try:
        deadline = time.monotonic() + 60
        while holder in client.scheduler_info()["workers"]:
            assert time.monotonic() < deadline, "the scheduler did not see the worker die"
            time.sleep(0.1)
        cost, grad = stack_cost_grad(rows, theta, StackSpec(sizes), 0.0, ())
        assert rows._sent[-1][1] is held  # the same future, made again
        assert cost == pytest.approx(expected[0], rel=REL)
        assert relative_difference(grad, expected[1]) < REL
    finally:
        client.wait_for_workers(2, timeout=60)  # the next tests get both workers back


def test_a_worker_killed_mid_fit_does_not_stop_it(client, digits):
    Xd = da.from_array(digits.X_train, chunks=(200, 64))
    clf = StackedAutoencoderClassifier(
        (32,), alpha=1e-4, pretrain_max_iter=40, output_max_iter=40, finetune_max_iter=40, random_state=0
    )
    errors = []

    def fit():
        try:
            _quietly(clf, Xd, digits.y_train)
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    pids = list(client.run(os.getpid).values())
    thread = threading.Thread(target=fit)
    thread.start()
    time.sleep(2.0)
    assert thread.is_alive(), "the fit ended before a worker could be killed; give it more work"
    os.kill(pids[0], signal.SIGKILL)  # the nanny starts a new worker; Dask recomputes the lost chunks
    try:
        thread.join(timeout=240)
        assert not thread.is_alive() and not errors, errors
        assert clf.score(digits.X_test, digits.y_test) >= 0.95
    finally:
        client.wait_for_workers(2, timeout=60)  # the next tests get both workers back


def test_cli_trains_on_an_existing_cluster(client, capsys):
    from stackae.cli import main

    code = main(
        [
            "train",
            "--scheduler",
            client.scheduler.address,
            "--hidden",
            "16",
            "--pretrain-max-iter",
            "10",
            "--output-max-iter",
            "10",
            "--finetune-max-iter",
            "10",
            "--quiet",
        ]
    )
    out = capsys.readouterr().out
    assert code == 0
    assert f"cluster: {client.scheduler.address}, 2 workers, 2 threads" in out
    assert float(out.split("test accuracy after fine-tuning:")[1].split("%")[0]) >= 80.0


@pytest.mark.parametrize(
    ("n_samples", "n_workers"), [(1_000_000, 2), (1_000_000, 3), (60_000, 2), (1797, 4), (10, 2), (5, 2)]
)
def test_default_chunks_share_out_evenly(n_samples, n_workers):
    from stackae.cluster import MAX_CHUNK_ROWS, chunk_rows_for

    rows = chunk_rows_for(n_samples, n_workers)
    sizes = [min(rows, n_samples - lo) for lo in range(0, n_samples, rows)]
    assert rows <= MAX_CHUNK_ROWS
    assert sum(sizes) == n_samples
    # at least 4 chunks a worker, a whole number of chunks for each worker, of one size
    # but the last (no worker waits on one extra), wherever a chunk has at least as many
    # rows as there are chunks (rounding the rows up then costs less than a chunk)
    if n_samples >= (4 * n_workers) ** 2:
        assert len(sizes) >= 4 * n_workers and len(sizes) % n_workers == 0
        assert max(sizes) - min(sizes) < len(sizes)
