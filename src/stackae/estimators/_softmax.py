"""Softmax regression, and the predictions every softmax-topped model shares."""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils import check_random_state
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import check_classification_targets

from .. import _xp
from .._params import pack, unpack
from .._xp import numpy_dtype
from ..heads import SOFTMAX
from ..log import opened, training_log
from ..objectives import softmax_probabilities
from ._data import check_fit_data, check_fit_weights, check_predict_X, host, split_validation, weights_like
from ._export import TorchExportMixin
from ._parameters import check_params
from ._partial import check_partial_fit, has_minibatch_solver, one_more_epoch
from ._registry import register
from ._stages import StageConfig, train_output, warn_not_converged

__all__ = ["SoftmaxRegression", "SoftmaxOutputMixin", "encode_labels", "store_history"]


def encode_labels(est, y, unlabeled: bool = False):
    """``(classes_, y_index)`` with at least two classes (``unlabeled``: ``y`` is the
    labeled rows of a ``y`` that also marked some unlabeled, for the message)."""
    check_classification_targets(y)
    classes, y_index = np.unique(y, return_inverse=True)
    if classes.size < 2:
        only = classes[0].item() if isinstance(classes[0], np.generic) else classes[0]
        found = f"{type(est).__name__} needs samples of at least 2 classes, got 1 class ({only!r})"
        if unlabeled:  # perhaps the rows marked -1 were meant as the other class
            raise ValueError(
                f"{found} among the labeled rows; label rows of another class (the label {est.unlabeled_label!r} "
                "marks an unlabeled row; set unlabeled_label=None to make it a class)."
            )
        raise ValueError(f"{found}; add samples of the other classes.")
    return classes, y_index.astype(np.intp)


#: The label of an unlabeled row, as scikit-learn's semi-supervised estimators mark them.
UNLABELED = -1


def labeled_rows(y, marker=UNLABELED):
    """The mask of ``y``'s labeled rows, or None when every row is labeled.

    ``marker`` (a classifier's ``unlabeled_label``; None: every label is a class)
    marks a row unlabeled: -1 by default, as in scikit-learn's semi-supervised
    estimators (``SelfTrainingClassifier``, ``LabelSpreading``). In an object ``y``
    (string labels) the mark is the same value, an integer -1 among strings; a string
    array (dtype ``U`` or ``S``) matches a string marker only (``unlabeled_label="?"``)."""
    if marker is None:
        return None
    y = np.asarray(y)
    if y.ndim != 1:
        return None
    if y.dtype.kind in "USO":
        is_text = isinstance(marker, str)
        unlabeled = np.fromiter(
            (
                (isinstance(v, str) == is_text) and not isinstance(v, bool | np.bool_) and bool(v == marker)
                for v in y.tolist()
            ),
            dtype=bool,
            count=y.size,
        )
    else:
        unlabeled = y == marker
    return None if not unlabeled.any() else ~unlabeled


def check_some_labeled(est, labeled) -> None:
    """Raise when no row of ``fit``'s ``y`` is labeled."""
    if labeled is not None and not labeled.any():
        raise ValueError(
            f"{type(est).__name__} got no labeled row: every label is {est.unlabeled_label!r}, which marks an "
            "unlabeled row (unlabeled_label). "
            "Label some rows (at least one of each of two classes); the unlabeled ones are used where the "
            "model can learn from them."
        )


def class_row_weights(class_weight, y, sample_weight):
    """Row weights of a classifier: ``sample_weight`` times the weight of each row's
    class (scikit-learn's ``compute_sample_weight``: a dict or ``"balanced"``)."""
    if class_weight is None:
        return sample_weight
    from sklearn.utils.class_weight import compute_sample_weight

    weights = compute_sample_weight(class_weight, y)
    return weights if sample_weight is None else weights * sample_weight


def store_history(est, result, monitor) -> None:
    """A single-stage estimator's ``n_iter_``, ``loss_``, ``loss_curve_`` and validation scores."""
    est.n_iter_ = result.n_iter
    est.loss_ = result.cost
    est.loss_curve_ = result.loss_curve
    for name in ("validation_scores_", "best_validation_score_"):
        est.__dict__.pop(name, None)
    if monitor is not None:
        est.validation_scores_ = monitor.scores
        est.best_validation_score_ = monitor.best_score


class SoftmaxOutputMixin:
    """Predictions of a model whose last layer is a softmax over ``classes_``.

    Subclasses provide ``_scores(X, pretrained)``: the softmax's input, shape
    (n_samples, n_classes), in ``X``'s namespace (NumPy for array-likes).
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
        """Most probable class of each sample (a NumPy array of labels)."""
        scores = self._scores(X, pretrained)
        if _xp.is_numpy(scores):
            return self.classes_[np.argmax(scores, axis=1)]
        xp = _xp.namespace(scores)
        return self.classes_[_xp.to_numpy(xp.argmax(scores, axis=1))]


# no hidden layer: nothing to transform to, and one layer
@register(predicts="classes", outputs=("predict_proba", "scores"), min_layers=1)
class SoftmaxRegression(TorchExportMixin, SoftmaxOutputMixin, ClassifierMixin, BaseEstimator):
    r"""Softmax (multinomial logistic) regression.

    Minimises :func:`stackae.objectives.softmax_cost`.

    Parameters
    ----------
    {parameters}

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
    coefs_ : list of one ndarray of shape (n_features, n_classes)
    intercepts_ : list of one ndarray of shape (n_classes,)
    n_iter_ : int
    loss_ : float
    loss_curve_ : list of float
    validation_scores_ : list of float
        With ``early_stopping``: the validation accuracy after each iteration.
    best_validation_score_ : float
        With ``early_stopping``: the best of them (the kept weights').
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
        momentum=0.9,
        nesterovs_momentum=False,
        learning_rate_schedule="constant",
        lbfgs_history=10,
        early_stopping=False,
        validation_fraction=0.1,
        n_iter_no_change=10,
        device="cpu",
        random_state=None,
        verbose=0,
        log=None,
        callbacks=None,
        class_weight=None,
    ):
        self.alpha = alpha
        self.max_iter = max_iter
        self.tol = tol
        self.solver = solver
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.momentum = momentum
        self.nesterovs_momentum = nesterovs_momentum
        self.learning_rate_schedule = learning_rate_schedule
        self.lbfgs_history = lbfgs_history
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.device = device
        self.random_state = random_state
        self.verbose = verbose
        self.log = log
        self.callbacks = callbacks
        self.class_weight = class_weight

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True  # SciPy sparse X: made dense a block of rows at a time
        return tags

    def fit(self, X, y, sample_weight=None):
        """Train on ``X`` of shape (n_samples, n_features) and labels ``y``; rows weighted
        by ``sample_weight`` times their class's ``class_weight``."""
        check_params(self)
        max_iter = int(self.max_iter)
        report = training_log(self)
        X, y = check_fit_data(self, X, y, needs_y=True, device=self.device)
        weights = class_row_weights(self.class_weight, y, check_fit_weights(sample_weight, X.shape[0]))
        self.classes_, y_index = encode_labels(self, y)
        rng = check_random_state(self.random_state)
        validation = None
        if self.early_stopping:
            X, y_index, X_val, y_val, weights = split_validation(
                X, y_index, self.validation_fraction, rng, stratify=True, sample_weight=weights
            )
            validation = (X_val, y_val)
        self.__dict__.pop("_partial_state", None)  # a fit starts over; partial_fit goes on from it
        with opened(report):
            result, monitor = train_output(
                StageConfig.of(self, report=report),
                X,
                y_index,
                self.classes_.size,
                SOFTMAX,
                alpha=self.alpha,
                max_iter=max_iter,
                rng=rng,
                stage="softmax",
                validation=validation,
                sample_weight=weights,
            )
        warn_not_converged(result, "softmax", "max_iter", max_iter)
        return self._keep(result, monitor, X)

    @available_if(has_minibatch_solver)
    def partial_fit(self, X, y, classes=None, sample_weight=None):
        """One epoch of the minibatch solver over ``X``'s rows and labels ``y``, going on
        from the last ``partial_fit`` (the weights, the optimizer's state and the random
        generator carry over, as in ``fit``'s epochs); ``n_iter_`` counts the passes.

        ``classes``: every label the model will see (as scikit-learn's ``partial_fit``
        takes them), needed at the first call unless its ``y`` holds them all; later
        calls' labels must be among them. After ``fit``, the first call goes on from the
        fitted weights and classes. Needs ``solver="sgd"`` or ``"adam"``, a
        constant learning rate, no early stopping, and a ``class_weight`` that is not
        ``"balanced"`` (a batch's frequencies are not the data's)."""
        check_params(self)
        check_partial_fit(self)
        if isinstance(self.class_weight, str) and self.class_weight == "balanced":
            raise ValueError("partial_fit cannot weigh the classes by a batch's frequencies: class_weight='balanced' "
                             "needs fit; give the classes' weights as a dict.")  # fmt: skip
        first = not hasattr(self, "_partial_state")
        fitted = pack(self.coefs_, self.intercepts_) if first and hasattr(self, "coefs_") else None
        report = training_log(self)
        X, y = check_fit_data(self, X, y, reset=not hasattr(self, "coefs_"), needs_y=True, device=self.device)
        if first and fitted is None:
            known = np.unique(np.asarray(y)) if classes is None else np.unique(np.asarray(classes))
            self.classes_, _ = encode_labels(self, known)
        unknown = np.setdiff1d(np.asarray(y), self.classes_)
        if unknown.size:
            raise ValueError(
                f"partial_fit got labels {unknown.tolist()[:5]} that are not among the classes "
                f"{self.classes_.tolist()}; give every label as 'classes' at the first call."
            )
        y_index = np.searchsorted(self.classes_, np.asarray(y)).astype(np.intp)
        weights = class_row_weights(self.class_weight, y, check_fit_weights(sample_weight, X.shape[0]))
        if report is not None and not first:
            report.append = True  # the log of the passes so far goes on

        def train(config, **run):
            return train_output(
                config, X, y_index, self.classes_.size, SOFTMAX, alpha=self.alpha, stage="softmax",
                sample_weight=weights, **run,
            )  # fmt: skip

        with opened(report):
            config = StageConfig.of(self, report=report)
            result, monitor = one_more_epoch(self, config, train, first=first, fitted=fitted)
        return self._keep(result, monitor, X)

    def _keep(self, result, monitor, X):
        """Take the trained weights from the optimizer's ``result``."""
        dtype = numpy_dtype(X.dtype)
        (W,), (b,) = unpack(np.asarray(host(result.theta), dtype=dtype), (X.shape[1], self.classes_.size))
        self.coefs_, self.intercepts_ = [W.copy()], [b.copy()]
        store_history(self, result, monitor)
        return self

    def _export_layers(self, output: str):
        """The one linear layer giving the scores (a softmax follows for ``predict_proba``)."""
        return [(self.coefs_[0], self.intercepts_[0], "linear")]

    def _scores(self, X, pretrained=False):
        if pretrained:
            raise ValueError("SoftmaxRegression has no pretraining; call it without 'pretrained'.")
        X = check_predict_X(self, X)
        W, b = weights_like(X, self.coefs_[0]), weights_like(X, self.intercepts_[0])
        return X @ W + b  # (m, n) @ (n, k) -> (m, k)
