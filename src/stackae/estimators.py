"""scikit-learn estimators: they validate input and wire the objectives to an optimizer.

* :class:`SparseAutoencoder` - one sparse autoencoder layer (a transformer);
* :class:`SoftmaxRegression` - multinomial logistic regression (a classifier);
* :class:`StackedAutoencoderClassifier` - greedy layer-wise pretraining, a softmax on
  top, then fine-tuning of the whole stack by backpropagation (UFLDL's recipe).

References
----------
UFLDL Tutorial, "Stacked Autoencoders" and "Fine-tuning Stacked AEs",
http://ufldl.stanford.edu/wiki/index.php/Fine-tuning_Stacked_AEs
"""

from __future__ import annotations

import numbers
import warnings

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, TransformerMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_random_state
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from ._checkpoint import StageCheckpoints, fingerprint, restore_rng
from ._params import init_theta, pack, unpack
from .exceptions import CollapsedFeaturesWarning
from .objectives import feedforward, softmax_cost, softmax_probabilities, sparse_autoencoder_cost, stack_cost
from .optim import OptimizeResult, lbfgs, minibatch

__all__ = ["SparseAutoencoder", "SoftmaxRegression", "StackedAutoencoderClassifier"]

FLOAT_DTYPES = (np.float64, np.float32)


# ------------------------------------------------------------------ parameter checks
def _check_int(name: str, value, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(f"'{name}' must be an integer >= {minimum}, got {value!r}.")
    return int(value)


def _check_float(name: str, value, low: float, high: float = np.inf, *, open_low: bool = False) -> float:
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool) and np.isfinite(value)
    if ok:
        ok = (value > low if open_low else value >= low) and (value < high)
    if not ok:
        bound = f"in ({low}, {high})" if np.isfinite(high) else (f"> {low}" if open_low else f">= {low}")
        raise ValueError(f"'{name}' must be a number {bound}, got {value!r}.")
    return float(value)


def _check_hidden_sizes(value) -> tuple[int, ...]:
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        value = (value,)
    try:
        sizes = tuple(value)
    except TypeError:
        sizes = None
    if not sizes or any(isinstance(s, bool) or not isinstance(s, numbers.Integral) or s < 1 for s in sizes):
        raise ValueError(f"'hidden_layer_sizes' must be a non-empty sequence of positive integers, got {value!r}.")
    return tuple(int(s) for s in sizes)


def _check_autoencoder_params(est) -> None:
    _check_float("alpha", est.alpha, 0.0)
    _check_float("sparsity_target", est.sparsity_target, 0.0, 1.0, open_low=True)
    _check_float("sparsity_weight", est.sparsity_weight, 0.0)
    _check_solver_params(est)


# -------------------------------------------------------------------- training stages
def _warn_not_converged(result: OptimizeResult, stage: str, param: str, max_iter: int) -> None:
    if not result.converged and not result.interrupted:
        warnings.warn(
            f"Stage '{stage}' reached {param}={max_iter} iterations without converging; "
            f"increase '{param}' for a closer fit.",
            ConvergenceWarning,
            stacklevel=3,
        )


def _warn_if_collapsed(H: np.ndarray, stage: str) -> None:
    spread = float(H.std(axis=0).max()) if H.shape[0] > 1 else np.inf
    if spread < 1e-3:
        warnings.warn(
            f"Stage '{stage}': every hidden unit outputs nearly the same value for every "
            f"sample (largest standard deviation {spread:.2g}), so the features carry no "
            "information. Try a smaller 'alpha' (e.g. 1e-4) or 'sparsity_weight'.",
            CollapsedFeaturesWarning,
            stacklevel=3,
        )


SOLVERS = ("lbfgs", "sgd", "adam")


def _check_solver_params(est) -> None:
    if est.solver not in SOLVERS:
        raise ValueError(f"'solver' must be 'lbfgs', 'sgd' or 'adam', got {est.solver!r}.")
    _check_int("batch_size", est.batch_size, 1)
    if est.learning_rate is not None:
        _check_float("learning_rate", est.learning_rate, 0.0, open_low=True)
    _check_float("tol", est.tol, 0.0)


def optimize(est, objective, X, y, theta0, *, max_iter, stage, rng, checkpoint=None, resume=None) -> OptimizeResult:
    """Minimise ``objective(theta, X, y)`` (``y`` may be None) with ``est``'s solver.

    L-BFGS works on the whole ``X`` with a float64 ``theta`` (the objective computes in
    ``X``'s dtype); the minibatch solvers keep ``theta`` in ``X``'s dtype and call the
    objective on each batch of rows. ``checkpoint`` (a callback) and ``resume`` (a
    state it saved, with the random generator's state under ``"rng"``) are passed on.
    """
    verbose = est.verbose > 0
    every = getattr(est, "checkpoint_every", 0) if checkpoint is not None else 0
    if resume is not None:
        restore_rng(rng, resume["rng"])
    if est.solver == "lbfgs":
        return lbfgs(
            lambda t: objective(t, X, y),
            theta0,
            max_iter=max_iter,
            tol=est.tol,
            stage=stage,
            verbose=verbose,
            checkpoint=checkpoint,
            checkpoint_every=every,
            resume=resume,
        )

    def on_rows(theta, rows):
        return objective(theta, X[rows], None if y is None else y[rows])

    return minibatch(
        on_rows,
        theta0.astype(X.dtype),
        X.shape[0],
        solver=est.solver,
        max_iter=max_iter,
        batch_size=est.batch_size,
        learning_rate=est.learning_rate,
        rng=rng,
        stage=stage,
        verbose=verbose,
        checkpoint=checkpoint,
        checkpoint_every=every,
        resume=resume,
    )


def pretrain_layer(est, X, n_hidden, *, max_iter, rng, stage, **resumable) -> OptimizeResult:
    """Train one sparse autoencoder on ``X`` with ``est``'s hyperparameters and solver."""
    n = X.shape[1]
    theta0 = init_theta((n, n_hidden, n), rng)

    def objective(theta, X_rows, _):
        return sparse_autoencoder_cost(
            theta,
            X_rows,
            n_hidden,
            alpha=est.alpha,
            sparsity_target=est.sparsity_target,
            sparsity_weight=est.sparsity_weight,
        )

    return optimize(est, objective, X, None, theta0, max_iter=max_iter, stage=stage, rng=rng, **resumable)


def train_softmax(est, X, y_index, n_classes, *, alpha, max_iter, rng, stage, **resumable) -> OptimizeResult:
    """Train softmax regression on ``X`` from UFLDL's ``0.005 * randn`` start."""
    n = X.shape[1]
    theta0 = np.zeros(n * n_classes + n_classes)
    theta0[: n * n_classes] = 0.005 * rng.standard_normal(n * n_classes)

    def objective(theta, X_rows, y_rows):
        return softmax_cost(theta, X_rows, y_rows, n_classes, alpha=alpha)

    return optimize(est, objective, X, y_index, theta0, max_iter=max_iter, stage=stage, rng=rng, **resumable)


def _store_result(est, result: OptimizeResult, layer_sizes, dtype) -> None:
    """Set a single-stage estimator's learned attributes from its optimizer's result."""
    weights, biases = unpack(result.theta.astype(dtype), layer_sizes)
    est.coefs_, est.intercepts_ = list(weights), list(biases)
    est.n_iter_ = result.n_iter
    est.loss_ = result.cost
    est.loss_curve_ = result.loss_curve


def _encode_labels(est, y):
    check_classification_targets(y)
    classes, y_index = np.unique(y, return_inverse=True)
    if classes.size < 2:
        only = classes[0].item() if isinstance(classes[0], np.generic) else classes[0]
        raise ValueError(
            f"{type(est).__name__} needs samples of at least 2 classes, got 1 class ({only!r}); "
            "add samples of the other classes."
        )
    return classes, y_index.astype(np.intp)


class _SoftmaxOutputMixin:
    """Predictions of a model whose last layer is a softmax over ``classes_``.

    Subclasses provide ``_scores(X, pretrained)``: the softmax's input, shape
    (n_samples, n_classes).
    """

    def decision_function(self, X, *, pretrained=False):
        """Class scores, shape (n_samples, n_classes); for two classes, as scikit-learn
        expects, the log-odds of ``classes_[1]``, shape (n_samples,)."""
        S = self._scores(X, pretrained)
        return S[:, 1] - S[:, 0] if S.shape[1] == 2 else S

    def predict_proba(self, X, *, pretrained=False):
        """Class probabilities, shape (n_samples, n_classes); rows sum to 1."""
        return softmax_probabilities(self._scores(X, pretrained))

    def predict(self, X, *, pretrained=False):
        """Most probable class of each sample."""
        scores = self._scores(X, pretrained)
        return self.classes_[np.argmax(scores, axis=1)]


# ------------------------------------------------------------------------ estimators
class SparseAutoencoder(TransformerMixin, BaseEstimator):
    r"""Sparse autoencoder with sigmoid hidden and output units.

    Minimises :func:`stackae.objectives.sparse_autoencoder_cost`; ``transform`` returns
    the hidden activations ``f(X W1 + b1)``.

    Parameters
    ----------
    n_hidden : int, default=200
        Hidden units.
    alpha : float, default=3e-3
        Weight decay :math:`\lambda`.
    sparsity_target : float, default=0.1
        Target mean activation :math:`\rho`, in (0, 1).
    sparsity_weight : float, default=3.0
        Weight :math:`\beta` of the sparsity penalty.
    max_iter : int, default=400
        L-BFGS iterations.
    tol : float, default=1e-6
        Stop L-BFGS when no gradient component exceeds ``tol``.
    solver : {"lbfgs", "sgd", "adam"}, default="lbfgs"
        ``"lbfgs"``: full-batch L-BFGS, as UFLDL (``max_iter`` counts iterations);
        ``"sgd"`` (with momentum 0.9) and ``"adam"``: minibatches, reshuffled every
        epoch from ``random_state`` (``max_iter`` counts epochs; reaching it is the
        plan, not a convergence failure). Float32 input trains in float32.
    batch_size : int, default=256
        Samples per minibatch (``"sgd"``, ``"adam"``).
    learning_rate : float or None, default=None
        Step size of ``"sgd"``/``"adam"``; ``None``: 0.1 for sgd, 1e-3 for adam.
    random_state : int, RandomState instance or None, default=None
        Seeds the initial weights.
    verbose : int, default=0
        Progress on stderr when > 0.

    Attributes
    ----------
    coefs_ : list of ndarray
        ``[W1 (n_features, n_hidden), W2 (n_hidden, n_features)]``.
    intercepts_ : list of ndarray
        ``[b1 (n_hidden,), b2 (n_features,)]``.
    n_iter_ : int
    loss_ : float
        Final cost.
    loss_curve_ : list of float
        Cost after each iteration.
    n_features_in_ : int

    References
    ----------
    UFLDL Tutorial, "Autoencoders and Sparsity", http://ufldl.stanford.edu/wiki/
    """

    def __init__(
        self,
        n_hidden=200,
        *,
        alpha=3e-3,
        sparsity_target=0.1,
        sparsity_weight=3.0,
        max_iter=400,
        tol=1e-6,
        solver="lbfgs",
        batch_size=256,
        learning_rate=None,
        random_state=None,
        verbose=0,
    ):
        self.n_hidden = n_hidden
        self.alpha = alpha
        self.sparsity_target = sparsity_target
        self.sparsity_weight = sparsity_weight
        self.max_iter = max_iter
        self.tol = tol
        self.solver = solver
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.random_state = random_state
        self.verbose = verbose

    def fit(self, X, y=None):
        """Train on ``X`` of shape (n_samples, n_features); ``y`` is ignored."""
        n_hidden = _check_int("n_hidden", self.n_hidden, 1)
        max_iter = _check_int("max_iter", self.max_iter, 0)
        _check_autoencoder_params(self)
        X = validate_data(self, X, dtype=FLOAT_DTYPES)
        stage = "sparse autoencoder"
        result = pretrain_layer(
            self, X, n_hidden, max_iter=max_iter, rng=check_random_state(self.random_state), stage=stage
        )
        _warn_not_converged(result, stage, "max_iter", max_iter)
        _store_result(self, result, (X.shape[1], n_hidden, X.shape[1]), X.dtype)
        _warn_if_collapsed(self._encode(X), stage)
        return self

    def _encode(self, X):
        return feedforward(X, self.coefs_[:1], self.intercepts_[:1])

    def transform(self, X):
        """Hidden activations ``f(X W1 + b1)``, shape (n_samples, n_hidden)."""
        check_is_fitted(self)
        X = validate_data(self, X, dtype=FLOAT_DTYPES, reset=False)
        return self._encode(X)

    def inverse_transform(self, H):
        """Reconstruction ``f(H W2 + b2)`` from hidden activations, shape (n_samples, n_features)."""
        check_is_fitted(self)
        H = np.asarray(H, dtype=self.coefs_[1].dtype)
        return feedforward(H, self.coefs_[1:], self.intercepts_[1:])


class SoftmaxRegression(_SoftmaxOutputMixin, ClassifierMixin, BaseEstimator):
    r"""Softmax (multinomial logistic) regression.

    Minimises :func:`stackae.objectives.softmax_cost`.

    Parameters
    ----------
    alpha : float, default=1e-4
        Weight decay :math:`\lambda` on the weights (not the intercepts).
    max_iter : int, default=400
    tol : float, default=1e-6
    solver : {"lbfgs", "sgd", "adam"}, default="lbfgs"
        ``"lbfgs"``: full-batch L-BFGS, as UFLDL (``max_iter`` counts iterations);
        ``"sgd"`` (with momentum 0.9) and ``"adam"``: minibatches, reshuffled every
        epoch from ``random_state`` (``max_iter`` counts epochs; reaching it is the
        plan, not a convergence failure). Float32 input trains in float32.
    batch_size : int, default=256
        Samples per minibatch (``"sgd"``, ``"adam"``).
    learning_rate : float or None, default=None
        Step size of ``"sgd"``/``"adam"``; ``None``: 0.1 for sgd, 1e-3 for adam.
    random_state : int, RandomState instance or None, default=None
        Seeds the initial weights (``0.005 * randn``, as UFLDL) and the minibatches.
    verbose : int, default=0

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
    coefs_ : list of one ndarray of shape (n_features, n_classes)
    intercepts_ : list of one ndarray of shape (n_classes,)
    n_iter_ : int
    loss_ : float
    loss_curve_ : list of float
    n_features_in_ : int

    References
    ----------
    UFLDL Tutorial, "Softmax Regression", http://ufldl.stanford.edu/wiki/
    """

    def __init__(
        self,
        *,
        alpha=1e-4,
        max_iter=400,
        tol=1e-6,
        solver="lbfgs",
        batch_size=256,
        learning_rate=None,
        random_state=None,
        verbose=0,
    ):
        self.alpha = alpha
        self.max_iter = max_iter
        self.tol = tol
        self.solver = solver
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.random_state = random_state
        self.verbose = verbose

    def fit(self, X, y):
        """Train on ``X`` of shape (n_samples, n_features) and labels ``y``."""
        _check_float("alpha", self.alpha, 0.0)
        _check_solver_params(self)
        max_iter = _check_int("max_iter", self.max_iter, 0)
        X, y = validate_data(self, X, y, dtype=FLOAT_DTYPES)
        self.classes_, y_index = _encode_labels(self, y)
        stage = "softmax"
        result = train_softmax(
            self,
            X,
            y_index,
            self.classes_.size,
            alpha=self.alpha,
            max_iter=max_iter,
            rng=check_random_state(self.random_state),
            stage=stage,
        )
        _warn_not_converged(result, stage, "max_iter", max_iter)
        _store_result(self, result, (X.shape[1], self.classes_.size), X.dtype)
        return self

    def _scores(self, X, pretrained=False):
        if pretrained:
            raise ValueError("SoftmaxRegression has no pretraining; call it without 'pretrained'.")
        check_is_fitted(self)
        X = validate_data(self, X, dtype=FLOAT_DTYPES, reset=False)
        return X @ self.coefs_[0] + self.intercepts_[0]  # (m, n) @ (n, k) -> (m, k)


class StackedAutoencoderClassifier(_SoftmaxOutputMixin, ClassifierMixin, TransformerMixin, BaseEstimator):
    r"""Stacked sparse autoencoders + softmax, fine-tuned by backpropagation.

    Training runs UFLDL's three steps, each by L-BFGS (or the minibatch ``solver``):

    1. greedy layer-wise pretraining: a sparse autoencoder on ``X``, another on the
       first one's hidden activations, and so on (one per entry of
       ``hidden_layer_sizes``);
    2. a softmax classifier on the last layer's features;
    3. fine-tuning: all layers and the softmax as one network, every weight optimised
       at once on :func:`stackae.objectives.stack_cost`.

    Parameters
    ----------
    hidden_layer_sizes : sequence of int, default=(200, 200)
    alpha : float, default=3e-3
        Weight decay of the autoencoders during pretraining.
    sparsity_target : float, default=0.1
    sparsity_weight : float, default=3.0
    softmax_alpha : float, default=1e-4
        Weight decay in the softmax step and in fine-tuning (on ``Theta`` only, or on
        every weight matrix with ``finetune_decay="all"``).
    pretrain_max_iter, softmax_max_iter, finetune_max_iter : int, default=400
        L-BFGS iterations (epochs for the minibatch solvers) of each step;
        ``finetune_max_iter=0`` keeps the pretrained network as it is.
    finetune_decay : {"softmax", "all"}, default="softmax"
        Which weights carry decay while fine-tuning (UFLDL: the softmax only).
    tol : float, default=1e-6
    solver : {"lbfgs", "sgd", "adam"}, default="lbfgs"
        ``"lbfgs"``: full-batch L-BFGS, as UFLDL (``max_iter`` counts iterations);
        ``"sgd"`` (with momentum 0.9) and ``"adam"``: minibatches, reshuffled every
        epoch from ``random_state`` (``max_iter`` counts epochs; reaching it is the
        plan, not a convergence failure). Float32 input trains in float32.
    batch_size : int, default=256
        Samples per minibatch (``"sgd"``, ``"adam"``).
    learning_rate : float or None, default=None
        Step size of ``"sgd"``/``"adam"``; ``None``: 0.1 for sgd, 1e-3 for adam.
    random_state : int, RandomState instance or None, default=None
    verbose : int, default=0
        Progress of every stage on stderr when > 0.
    warm_start : bool, default=False
        When True and the estimator is already fitted (or built by
        :meth:`from_layers` from layers trained elsewhere), ``fit`` skips pretraining
        and the softmax step and fine-tunes the current weights.
    checkpoint_dir : str, path or None, default=None
        Folder for checkpoints, written atomically every ``checkpoint_every``
        iterations (epochs for the minibatch solvers) and at the end of every stage.
        When it already holds checkpoints of the same run (same data and
        hyperparameters), ``fit`` continues from the newest valid one: bit for bit for
        the minibatch solvers (same thread count), from the saved iterate for L-BFGS
        (whose curvature history restarts).
    checkpoint_every : int, default=10

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
    coefs_ : list of ndarray
        ``[W1, ..., WL, Theta]``, ``W_l`` of shape ``(n_{l-1}, n_l)``.
    intercepts_ : list of ndarray
        ``[b1, ..., bL, c]``.
    pretrained_coefs_, pretrained_intercepts_ : list of ndarray
        The same, before fine-tuning (see ``predict(X, pretrained=True)``).
    stage_costs_ : dict
        Final cost of each stage: ``"pretrain layer 1"``, ..., ``"softmax"``,
        ``"finetune"``.
    n_iter_ : dict
        Iterations run in each stage.
    loss_curve_ : dict of list of float
        Cost after each iteration, per stage.
    stage_seconds_ : dict
        Wall time of each stage.
    n_features_in_ : int

    References
    ----------
    UFLDL Tutorial, "Fine-tuning Stacked AEs",
    http://ufldl.stanford.edu/wiki/index.php/Fine-tuning_Stacked_AEs
    """

    def __init__(
        self,
        hidden_layer_sizes=(200, 200),
        *,
        alpha=3e-3,
        sparsity_target=0.1,
        sparsity_weight=3.0,
        softmax_alpha=1e-4,
        pretrain_max_iter=400,
        softmax_max_iter=400,
        finetune_max_iter=400,
        finetune_decay="softmax",
        tol=1e-6,
        solver="lbfgs",
        batch_size=256,
        learning_rate=None,
        random_state=None,
        verbose=0,
        warm_start=False,
        checkpoint_dir=None,
        checkpoint_every=10,
    ):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.alpha = alpha
        self.sparsity_target = sparsity_target
        self.sparsity_weight = sparsity_weight
        self.softmax_alpha = softmax_alpha
        self.pretrain_max_iter = pretrain_max_iter
        self.softmax_max_iter = softmax_max_iter
        self.finetune_max_iter = finetune_max_iter
        self.finetune_decay = finetune_decay
        self.tol = tol
        self.solver = solver
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.random_state = random_state
        self.verbose = verbose
        self.warm_start = warm_start
        self.checkpoint_dir = checkpoint_dir
        self.checkpoint_every = checkpoint_every

    # ---------------------------------------------------------------- training
    def _check_params(self):
        hidden = _check_hidden_sizes(self.hidden_layer_sizes)
        _check_autoencoder_params(self)
        _check_float("softmax_alpha", self.softmax_alpha, 0.0)
        for name in ("pretrain_max_iter", "softmax_max_iter", "finetune_max_iter"):
            _check_int(name, getattr(self, name), 0)
        _check_int("checkpoint_every", self.checkpoint_every, 1)
        if self.finetune_decay not in ("softmax", "all"):
            raise ValueError(f"'finetune_decay' must be 'softmax' or 'all', got {self.finetune_decay!r}.")
        return hidden

    def _record(self, stage: str, result: OptimizeResult) -> None:
        self.stage_costs_[stage] = result.cost
        self.n_iter_[stage] = result.n_iter
        self.loss_curve_[stage] = result.loss_curve
        self.stage_seconds_[stage] = result.seconds

    def _check_warm_start(self, hidden, classes) -> None:
        sizes = tuple(W.shape[1] for W in self.coefs_[:-1])
        if sizes != hidden:
            raise ValueError(
                f"warm_start=True needs the fitted hidden layer sizes {sizes}, got "
                f"hidden_layer_sizes={hidden}; set warm_start=False to train a new network."
            )
        if not np.array_equal(self.classes_, classes):
            raise ValueError(
                f"warm_start=True needs the fitted classes {list(self.classes_)}, got {list(classes)}; "
                "set warm_start=False to train a new network."
            )

    @classmethod
    def from_layers(cls, layers, softmax, **params):
        """A stack assembled from layers trained elsewhere, ready to be fine-tuned by ``fit``.

        Parameters
        ----------
        layers : sequence of fitted SparseAutoencoder, or of ``(W, b)`` pairs
            The hidden layers in order; ``W`` of shape ``(n_in, n_out)``.
        softmax : fitted SoftmaxRegression, or ``(Theta, c, classes)``
        **params
            Other constructor parameters (e.g. ``finetune_max_iter``); ``warm_start`` is
            set to True and ``hidden_layer_sizes`` taken from the layers.

        Returns
        -------
        StackedAutoencoderClassifier
            ``predict`` works at once (the network as assembled); ``fit(X, y)``
            fine-tunes it without pretraining.
        """
        weights, biases = [], []
        for i, layer in enumerate(layers, start=1):
            if isinstance(layer, SparseAutoencoder):
                check_is_fitted(layer)
                W, b = layer.coefs_[0], layer.intercepts_[0]
            else:
                W, b = layer
            W, b = np.asarray(W), np.asarray(b)
            if W.ndim != 2 or b.shape != (W.shape[1],) or (weights and W.shape[0] != weights[-1].shape[1]):
                expected = weights[-1].shape[1] if weights else "n_features"
                raise ValueError(
                    f"Layer {i} has weights of shape {W.shape} and biases of shape {b.shape}; expected "
                    f"({expected}, n_out) and (n_out,)."
                )
            weights.append(W)
            biases.append(b)
        if isinstance(softmax, SoftmaxRegression):
            check_is_fitted(softmax)
            Theta, c, classes = softmax.coefs_[0], softmax.intercepts_[0], softmax.classes_
        else:
            Theta, c, classes = softmax
        Theta, c, classes = np.asarray(Theta), np.asarray(c), np.asarray(classes)
        n_last = weights[-1].shape[1] if weights else None
        if Theta.ndim != 2 or Theta.shape[0] != n_last or c.shape != (Theta.shape[1],) or classes.shape != c.shape:
            raise ValueError(
                f"The softmax has weights {Theta.shape}, intercepts {c.shape} and {classes.size} classes; "
                f"expected ({n_last}, n_classes), (n_classes,) and n_classes classes."
            )
        params["hidden_layer_sizes"] = tuple(W.shape[1] for W in weights)
        params["warm_start"] = True
        est = cls(**params)
        dtype = np.result_type(*weights, Theta)
        est.coefs_ = [W.astype(dtype) for W in (*weights, Theta)]
        est.intercepts_ = [b.astype(dtype) for b in (*biases, c)]
        est.pretrained_coefs_ = [W.copy() for W in est.coefs_]
        est.pretrained_intercepts_ = [b.copy() for b in est.intercepts_]
        est.classes_ = classes
        est.n_features_in_ = weights[0].shape[0]
        est.stage_costs_, est.n_iter_, est.loss_curve_, est.stage_seconds_ = {}, {}, {}, {}
        return est

    def _stages(self, hidden) -> list[str]:
        return [f"pretrain layer {layer}" for layer in range(1, len(hidden) + 1)] + ["softmax", "finetune"]

    def _checkpoints(self, X, y_index, rng, warm: bool):
        if self.checkpoint_dir is None:
            return None
        skip = ("verbose", "checkpoint_dir", "checkpoint_every", "warm_start")
        params = {k: v for k, v in self.get_params().items() if k not in skip}
        params["warm_started"] = warm  # a warm start's checkpoints begin from other weights
        if isinstance(self.random_state, np.random.RandomState):
            params["random_state"] = "RandomState"
        return StageCheckpoints(self.checkpoint_dir, self.checkpoint_every, fingerprint(X, y_index, params), rng)

    def fit(self, X, y):
        """Pretrain, train the softmax, fine-tune. ``X`` of shape (n_samples, n_features).

        With ``warm_start=True`` on a fitted estimator, only fine-tune. With
        ``checkpoint_dir`` holding checkpoints of this same run (same data and
        hyperparameters), continue from the newest valid one.
        """
        hidden = self._check_params()
        warm = bool(self.warm_start) and hasattr(self, "coefs_")
        X, y = validate_data(self, X, y, dtype=FLOAT_DTYPES, reset=not warm)
        classes, y_index = _encode_labels(self, y)
        rng = check_random_state(self.random_state)
        stages = self._stages(hidden)
        checkpoints = self._checkpoints(X, y_index, rng, warm)

        # done: (W, b) of each finished pretraining layer, then of the softmax
        start, resume = 0, None
        if warm:
            self._check_warm_start(hidden, classes)
            done = list(zip(self.coefs_, self.intercepts_))
            start = len(stages) - 1
        else:
            self.classes_ = classes
            self.stage_costs_, self.n_iter_, self.loss_curve_, self.stage_seconds_ = {}, {}, {}, {}
            for stale in ("pretrained_coefs_", "pretrained_intercepts_"):
                self.__dict__.pop(stale, None)
            done = []
            restored = checkpoints.restore() if checkpoints is not None else None
            if restored is not None:
                start, done, history, resume, pretrained = restored
                if pretrained:
                    self.pretrained_coefs_ = [W.astype(X.dtype) for W, _ in pretrained]
                    self.pretrained_intercepts_ = [b.astype(X.dtype) for _, b in pretrained]
                self.stage_costs_, self.n_iter_ = history["stage_costs"], history["n_iter"]
                self.loss_curve_, self.stage_seconds_ = history["loss_curve"], history["stage_seconds"]
                done = [(W.astype(X.dtype), b.astype(X.dtype)) for W, b in done]

        for index in range(start, len(stages)):
            stage = stages[index]
            history = {
                "stage_costs": self.stage_costs_,
                "n_iter": self.n_iter_,
                "loss_curve": self.loss_curve_,
                "stage_seconds": self.stage_seconds_,
            }
            resumable = {"resume": resume}
            if checkpoints is not None:
                resumable["checkpoint"] = checkpoints.during(index, done, history)
            resume = None
            result, layers = self._run_stage(stage, index, X, y_index, classes, hidden, done, rng, resumable)
            self._record(stage, result)
            if stage == "finetune":
                if not warm:
                    self.pretrained_coefs_ = [W.copy() for W, _ in done]
                    self.pretrained_intercepts_ = [b.copy() for _, b in done]
                done = layers
            else:
                done.append(layers[0])
            if checkpoints is not None:
                pretrained = (
                    zip(self.pretrained_coefs_, self.pretrained_intercepts_) if stage == "finetune" and not warm else ()
                )
                checkpoints.stage_done(index + 1, done, history, pretrained)
        self.coefs_ = [W for W, _ in done]
        self.intercepts_ = [b for _, b in done]
        return self

    def _run_stage(self, stage, index, X, y_index, classes, hidden, done, rng, resumable):
        """Train ``stage`` (``stages[index]``) on top of the finished layers ``done``.

        Returns the optimizer's result and the trained layers as ``(W, b)`` pairs in
        ``X``'s dtype: the new hidden layer, the softmax, or the whole fine-tuned stack.
        """
        if stage == "finetune":

            def objective(theta, X_rows, y_rows):
                return stack_cost(
                    theta, X_rows, y_rows, hidden, classes.size, alpha=self.softmax_alpha, decay=self.finetune_decay
                )

            theta = pack([W for W, _ in done], [b for _, b in done], dtype=np.float64)
            result = optimize(
                self, objective, X, y_index, theta, max_iter=self.finetune_max_iter, stage=stage, rng=rng, **resumable
            )
            _warn_not_converged(result, stage, "finetune_max_iter", self.finetune_max_iter)
            weights, biases = unpack(result.theta.astype(X.dtype), (X.shape[1], *hidden, classes.size))
            return result, [(W.copy(), b.copy()) for W, b in zip(weights, biases)]

        # the input of this stage: the features of the finished layers below it
        features = feedforward(X, [W for W, _ in done[:index]], [b for _, b in done[:index]])
        n_in = features.shape[1]
        if stage == "softmax":
            result = train_softmax(
                self,
                features,
                y_index,
                classes.size,
                alpha=self.softmax_alpha,
                max_iter=self.softmax_max_iter,
                rng=rng,
                stage=stage,
                **resumable,
            )
            _warn_not_converged(result, stage, "softmax_max_iter", self.softmax_max_iter)
            (Theta,), (c,) = unpack(result.theta.astype(X.dtype), (n_in, classes.size))
            return result, [(Theta, c)]
        result = pretrain_layer(
            self, features, hidden[index], max_iter=self.pretrain_max_iter, rng=rng, stage=stage, **resumable
        )
        _warn_not_converged(result, stage, "pretrain_max_iter", self.pretrain_max_iter)
        (W1, _), (b1, _) = unpack(result.theta.astype(X.dtype), (n_in, hidden[index], n_in))
        _warn_if_collapsed(feedforward(features, [W1], [b1]), stage)
        return result, [(W1, b1)]

    # -------------------------------------------------------------- inference
    def _weights(self, pretrained: bool):
        check_is_fitted(self)
        if pretrained:
            if not hasattr(self, "pretrained_coefs_"):
                raise ValueError("This model holds no pretrained weights (it was warm-started).")
            return self.pretrained_coefs_, self.pretrained_intercepts_
        return self.coefs_, self.intercepts_

    def _scores(self, X, pretrained=False):
        weights, biases = self._weights(pretrained)
        X = validate_data(self, X, dtype=FLOAT_DTYPES, reset=False)
        return feedforward(X, weights[:-1], biases[:-1]) @ weights[-1] + biases[-1]  # (m, n_L) @ (n_L, k)

    def transform(self, X, layer=None):
        """Activations of hidden layer ``layer`` (1..L; default the last), shape (n_samples, n_layer)."""
        check_is_fitted(self)
        n_layers = len(self.coefs_) - 1
        layer = n_layers if layer is None else layer
        if isinstance(layer, bool) or not isinstance(layer, numbers.Integral) or not 1 <= layer <= n_layers:
            raise ValueError(f"'layer' must be an integer in 1..{n_layers}, got {layer!r}.")
        X = validate_data(self, X, dtype=FLOAT_DTYPES, reset=False)
        return feedforward(X, self.coefs_[:layer], self.intercepts_[:layer])
