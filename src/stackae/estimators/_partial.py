"""``partial_fit``: one more epoch of a stage's minibatch solver, going on exactly from
where the last call left it, through the optimizer's resume protocol (the one a
checkpoint uses)."""

from __future__ import annotations

import copy
from dataclasses import replace

import numpy as np
from sklearn.utils import check_random_state

from .._checkpoint import rng_state_arrays

__all__ = ["has_minibatch_solver", "check_partial_fit", "one_more_epoch"]


def has_minibatch_solver(est) -> bool:
    """Whether ``est`` has ``partial_fit`` (for :func:`sklearn.utils.metaestimators.available_if`,
    as scikit-learn's MLP has it): only with a minibatch solver; with L-BFGS,
    ``est.partial_fit`` is an AttributeError that says why."""
    if est.solver == "lbfgs":
        raise AttributeError(
            "partial_fit needs solver='sgd' or 'adam' (one pass of minibatches over the rows given); "
            "L-BFGS works on all the rows at once: use fit."
        )
    return True


def check_partial_fit(est) -> None:
    """Refuse, before any work, a ``partial_fit`` whose settings need all the rows or
    the number of epochs."""
    has_minibatch_solver(est)
    if est.early_stopping:
        raise ValueError("partial_fit does not hold out a validation split: set early_stopping=False, or use fit.")
    if est.learning_rate_schedule != "constant":
        raise ValueError(
            f"partial_fit needs learning_rate_schedule='constant' (a decay needs the number of epochs, which "
            f"partial_fit does not know); got learning_rate_schedule={est.learning_rate_schedule!r}."
        )


def _fresh_optimizer(solver: str, theta) -> dict:
    """The state of an optimizer that has taken no step (what ``minibatch`` starts from)."""
    zeros = np.zeros_like(theta)
    return {"velocity": zeros} if solver == "sgd" else {"m": zeros, "v": zeros.copy(), "t": 0}


def one_more_epoch(est, config, train, *, first: bool, fitted=None):
    """One more epoch of the stage ``train`` (a stage function of :mod:`._stages` with
    its data bound, called with ``config``, ``rng``, ``max_iter``, ``resume`` and
    ``checkpoint``) from where ``est``'s last ``partial_fit`` left the weights, the
    optimizer's state and the random generator (``first``: from the start, as ``fit``,
    or from the weights ``fitted`` (a packed vector) that ``fit`` left, with an
    optimizer that has taken no step).
    The state goes through the optimizer's resume protocol, as a checkpoint's does, so
    a pass continues the last one exactly; it is kept on ``est`` for the next call."""
    state = None if first else est._partial_state
    rng = check_random_state(est.random_state) if first else est._partial_rng
    if first and fitted is not None:
        theta = np.asarray(fitted, dtype=np.float64)
        state = {
            "theta": theta,
            "iteration": 0,
            "loss_curve": [],
            "optimizer": _fresh_optimizer(config.solver, theta),
            "rng": rng_state_arrays(rng),
        }
    saved: dict = {}

    def keep(now):  # the end of the epoch: the weights, the optimizer's moments, the generator
        saved.update(copy.deepcopy(now), rng=rng_state_arrays(rng))

    done = 0 if state is None else int(state["iteration"])
    result, monitor = train(
        replace(config, checkpoint_every=1), rng=rng, max_iter=done + 1, resume=state, checkpoint=keep
    )
    if not result.interrupted:
        est._partial_state, est._partial_rng = saved, rng
    return result, monitor
