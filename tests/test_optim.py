"""The optimizer: convergence on a known problem, Ctrl-C keeps the best weights,
non-finite values stop training with a clear error."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from scipy.optimize import rosen, rosen_der
from sklearn.exceptions import ConvergenceWarning

from stackae import NonFiniteError, StackedAutoencoderClassifier
from stackae.datasets import load_digits_split
from stackae.estimators import _stages as stages_module
from stackae.optim import lbfgs


def quadratic(theta):
    target = np.arange(theta.size, dtype=float)
    return float(np.sum((theta - target) ** 2)), 2 * (theta - target)


def test_lbfgs_minimises_a_quadratic():
    result = lbfgs(quadratic, np.zeros(5), max_iter=50, tol=1e-10)
    np.testing.assert_allclose(result.theta, np.arange(5), atol=1e-8)
    assert result.converged and not result.interrupted
    assert result.loss_curve[-1] == pytest.approx(result.cost)


def test_lbfgs_minimises_rosenbrock_on_the_host():
    result = lbfgs(lambda x: (float(rosen(x)), rosen_der(x)), np.zeros(8), max_iter=500, tol=1e-8)
    assert result.converged and result.cost < 1e-8
    np.testing.assert_allclose(result.theta, 1.0, atol=1e-4)
    assert result.n_iter < 200


def test_lbfgs_stops_when_the_cost_stops_falling():
    # scipy's relative decrease criterion (factr 1e7): Rosenbrock's valley is left long
    # before max_iter although the gradient tolerance (0) is never reached
    result = lbfgs(lambda x: (float(rosen(x)), rosen_der(x)), np.zeros(20), max_iter=10_000, tol=0.0)
    assert result.converged and result.n_iter < 1000
    assert result.message == "the cost stopped changing"
    assert 1e-12 < result.cost < 1e-6  # stopped at that criterion, not at float64's last digits


def test_host_lbfgs_blas_steps_follow_the_array_api_steps():
    # on NumPy the recursion's dots and updates are BLAS-1 calls made in place; the
    # iterates are those of the portable array operations, to rounding
    array_api_strict = pytest.importorskip("array_api_strict")
    from stackae import _lbfgs

    rng = np.random.default_rng(0)
    A = rng.normal(size=(40, 40))
    H, b = A @ A.T / 40 + np.eye(40), rng.normal(size=40)

    def host(x):
        return float(0.5 * x @ H @ x - b @ x), H @ x - b

    def strict(x):
        cost, grad = host(np.asarray(x))
        return cost, array_api_strict.asarray(grad)

    x_host, f_host, *_ = _lbfgs.minimize(host, np.zeros(40), xp=np, max_iter=15, gtol=0.0)
    x_strict, f_strict, *_ = _lbfgs.minimize(
        strict, array_api_strict.zeros(40, dtype=array_api_strict.float64), xp=array_api_strict, max_iter=15, gtol=0.0
    )
    np.testing.assert_allclose(x_host, np.asarray(x_strict), rtol=1e-9, atol=1e-12)
    assert f_host == pytest.approx(f_strict, rel=1e-12)


def test_lbfgs_evaluates_and_monitors_with_the_usual_blas_threads():
    from threadpoolctl import threadpool_info

    def blas_threads():
        return sorted(i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas")

    usual, seen = blas_threads(), []

    def quadratic_seen(theta):
        seen.append(blas_threads())
        return quadratic(theta)

    lbfgs(quadratic_seen, np.zeros(5), max_iter=5, monitor=lambda theta, it: seen.append(blas_threads()) or False)
    assert seen and all(threads == usual for threads in seen)


def test_ctrl_c_keeps_the_best_weights_so_far():
    calls = []

    def rosenbrock(theta):
        return float(rosen(theta)), rosen_der(theta)

    def interrupted_after_some_calls(theta):
        calls.append(1)
        if len(calls) == 20:
            raise KeyboardInterrupt
        return rosenbrock(theta)

    result = lbfgs(interrupted_after_some_calls, np.zeros(6), max_iter=500)
    assert result.interrupted and not result.converged
    assert result.n_iter >= 1
    assert result.cost == pytest.approx(rosenbrock(result.theta)[0])
    assert result.cost == min(result.loss_curve)
    assert result.cost < rosenbrock(np.zeros(6))[0]


def test_non_finite_cost_names_stage_and_iteration():
    def blows_up(theta):
        cost, grad = quadratic(theta)
        return (np.nan, grad) if np.abs(theta).max() > 1.0 else (cost, grad)

    with pytest.raises(
        NonFiniteError, match=r"^Training stage 'demo' produced a non-finite cost at iteration 2\. Try"
    ) as info:
        lbfgs(blows_up, np.zeros(5), max_iter=50, stage="demo")
    assert info.value.stage == "demo"
    assert np.all(np.isfinite(info.value.theta))


def test_ctrl_c_during_finetuning_returns_a_usable_model(monkeypatch):
    data = load_digits_split()
    real_stack_cost = stages_module.stack_cost_grad
    calls = []

    def stack_cost_interrupted(rows, theta, spec, *args):
        if len(spec.sizes) > 2:  # the fine-tuning stage, not the softmax
            calls.append(1)
            if len(calls) == 10:
                raise KeyboardInterrupt
        return real_stack_cost(rows, theta, spec, *args)

    monkeypatch.setattr(stages_module, "stack_cost_grad", stack_cost_interrupted)
    clf = StackedAutoencoderClassifier((16,), alpha=1e-4, pretrain_max_iter=40, output_max_iter=40, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(data.X_train, data.y_train)
    assert 1 <= clf.n_iter_["finetune"] < 10
    assert clf.score(data.X_test, data.y_test) >= 0.8


def _interrupt_in(monkeypatch, which: str, after: int = 5):
    """Ctrl-C in the ``after``-th evaluation of the stage ``which`` ("pretrain",
    "softmax" or "finetune"), counting the evaluations of every stage."""
    counts = {"pretrain": 0, "softmax": 0, "finetune": 0}
    real_stack, real_ae = stages_module.stack_cost_grad, stages_module.autoencoder_cost_grad

    def count(kind):
        counts[kind] += 1
        if kind == which and counts[kind] == after:
            raise KeyboardInterrupt

    def stack(rows, theta, spec, *args):
        count("finetune" if len(spec.sizes) > 2 else "softmax")
        return real_stack(rows, theta, spec, *args)

    def autoencoder(rows, theta, spec, *args):
        count("pretrain")
        return real_ae(rows, theta, spec, *args)

    monkeypatch.setattr(stages_module, "stack_cost_grad", stack)
    monkeypatch.setattr(stages_module, "autoencoder_cost_grad", autoencoder)
    return counts


def test_one_ctrl_c_ends_the_whole_run(monkeypatch):
    data = load_digits_split()
    counts = _interrupt_in(monkeypatch, "softmax")
    clf = StackedAutoencoderClassifier((16,), alpha=1e-4, pretrain_max_iter=40, output_max_iter=40, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(data.X_train, data.y_train)
    assert counts["finetune"] == 0  # fine-tuning never started
    assert clf.interrupted_stage_ == "softmax" and "finetune" not in clf.n_iter_
    assert clf.score(data.X_test, data.y_test) >= 0.5  # the pretrained layer and the softmax as they were
    np.testing.assert_array_equal(clf.predict(data.X_test, pretrained=True), clf.predict(data.X_test))


def test_ctrl_c_before_an_output_layer_says_there_is_no_model(monkeypatch, tmp_path):
    from stackae.exceptions import TrainingInterrupted

    data = load_digits_split()
    counts = _interrupt_in(monkeypatch, "pretrain")
    clf = StackedAutoencoderClassifier((16, 8), alpha=1e-4, pretrain_max_iter=40, random_state=0,
                                       checkpoint_dir=tmp_path / "ck")  # fmt: skip
    with pytest.raises(TrainingInterrupted) as info:
        clf.fit(data.X_train, data.y_train)
    assert str(info.value) == (
        "Training was interrupted in stage 'pretrain layer 1' after 2 iterations, before the network had an "
        f"output layer: there is no model to predict with; resume from the checkpoints in '{tmp_path / 'ck'}'."
    )
    assert info.value.stage == "pretrain layer 1" and counts["softmax"] == 0
