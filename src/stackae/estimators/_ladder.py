"""The Ladder network (Rasmus et al., 2015): semi-supervised learning with a denoising
autoencoder at every layer, trained jointly with the classifier (see
:mod:`stackae.ladder` for the objective)."""

from __future__ import annotations

import numbers

import numpy as np
from sklearn.base import ClassifierMixin
from sklearn.utils import check_random_state

from .. import _xp
from .._checkpoint import restore_rng
from .._rows import rows_of
from .._xp import numpy_dtype
from ..activations import relu
from ..ladder import (
    BN_EPSILON,
    LadderSpec,
    ladder_cost_grad,
    ladder_fold,
    ladder_init,
    ladder_scores,
    ladder_unpack,
)
from ..log import opened, training_log
from ..optim import minibatch
from ._base import StackedNetwork, _locked
from ._data import (
    chain_rows,
    check_fit_data,
    check_splittable,
    check_unlabeled_data,
    encode,
    host,
    on_rows_of,
    take_labels,
    take_rows,
    validation_rows,
    weights_like,
)
from ._parameters import check_float, check_params
from ._registry import register
from ._softmax import SoftmaxOutputMixin, check_some_labeled, encode_labels, labeled_rows, store_history
from ._stages import EarlyStopping
from ._validation import check_hidden_sizes

__all__ = ["LadderNetworkClassifier"]

#: The paper's denoising weights for 100 (and 1000) labels, input first.
FEW_LABELS_DENOISING = (1000.0, 10.0, 0.1, 0.1, 0.1, 0.1, 0.1)


@register(task="ladder", predicts="classes", outputs=("predict_proba", "scores", "transform"), finetuned=False)
class LadderNetworkClassifier(SoftmaxOutputMixin, ClassifierMixin, StackedNetwork):
    r"""The Ladder network: a classifier that learns from unlabeled rows too.

    An encoder with batch normalisation and ReLU units, run clean and corrupted by
    Gaussian noise at every layer, and a decoder that denoises every layer of the
    corrupted pass with the signal from above (Rasmus et al., 2015). The cost is the
    corrupted output's cross-entropy on the labeled rows plus the layers' denoising
    costs on the unlabeled rows (:mod:`stackae.ladder`). Every step takes
    ``batch_size`` labeled rows and as many rows of all of them (labeled or not) as
    unlabeled ones; an epoch is a pass over all the rows in that second role. Adam,
    with the learning rate decaying linearly to 0 from ``decay_start`` of the epochs on.

    The defaults are the paper's for 100 and 1000 labels on MNIST. The Gamma-model is
    ``denoising_weights`` with only the last one nonzero; the supervised baseline
    (batch normalisation and noise, no decoder) has them all 0, and then the unlabeled
    rows are not used. After training, each layer's batch statistics are recomputed on
    all the training rows and folded into the weights, so the fitted network
    (``coefs_``, ``intercepts_``) is a plain ReLU network with a softmax on top.

    Parameters
    ----------
    {parameters}

    Attributes
    ----------
    classes_, coefs_, intercepts_, n_features_in_
        As :class:`StackedAutoencoderClassifier`'s (the folded network).
    ladder_theta_ : ndarray
        The trained parameters before the fold, packed as
        :func:`stackae.ladder.ladder_layout` says (absent on a loaded model).
    batch_statistics_ : list of (ndarray, ndarray)
        Each layer's mean and standard deviation on the training rows, folded into
        ``coefs_``/``intercepts_``.
    n_iter_ : int
        Epochs run.
    loss_ : float
        The mean cost of the last epoch.
    loss_curve_ : list of float
        The mean cost of every epoch.
    validation_scores_, best_validation_score_ : list of float, float
        With ``early_stopping``.

    References
    ----------
    A. Rasmus, H. Valpola, M. Honkala, M. Berglund, T. Raiko, "Semi-Supervised Learning
    with Ladder Networks", NIPS 2015.
    """

    #: the encoder's hidden units, which predict and transform read
    activation = "relu"
    _stratify = True

    def __init__(
        self,
        hidden_layer_sizes=(1000, 500, 250, 250, 250),
        *,
        denoising_weights=FEW_LABELS_DENOISING,
        noise_std=0.3,
        max_iter=150,
        batch_size=100,
        learning_rate=0.002,
        decay_start=2 / 3,
        early_stopping=False,
        validation_fraction=0.1,
        n_iter_no_change=10,
        device="cpu",
        random_state=None,
        verbose=0,
        log=None,
        callbacks=None,
        checkpoint_dir=None,
        checkpoint_every=10,
        unlabeled_label=-1,
    ):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.denoising_weights = denoising_weights
        self.noise_std = noise_std
        self.max_iter = max_iter
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.decay_start = decay_start
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.device = device
        self.random_state = random_state
        self.verbose = verbose
        self.log = log
        self.callbacks = callbacks
        self.checkpoint_dir = checkpoint_dir
        self.checkpoint_every = checkpoint_every
        self.unlabeled_label = unlabeled_label

    def _check_params(self):
        check_params(self)
        hidden = check_hidden_sizes(self.hidden_layer_sizes)
        expected = len(hidden) + 2
        weights = self.denoising_weights
        ok = not isinstance(weights, str | numbers.Number) and weights is not None
        if ok:
            try:
                weights = tuple(float(w) for w in weights if not isinstance(w, bool))
            except (TypeError, ValueError):
                ok = False
        if not ok or len(weights) != expected or not all(np.isfinite(w) and w >= 0 for w in weights):
            raise ValueError(
                f"'denoising_weights' must be {expected} numbers >= 0 (the input, each of the "
                f"{len(hidden)} hidden layers, the output), got {self.denoising_weights!r}."
            )
        # the table lets the others' learning_rate be None (a default per solver); the Ladder's Adam has none
        check_float("learning_rate", self.learning_rate, 0.0, open_low=True)
        return hidden, weights

    def fit(self, X, y, X_unlabeled=None):
        """Train on ``X`` (shape (n_samples, n_features)) and its labels ``y``, where
        ``unlabeled_label`` (-1) marks an unlabeled row, and on the rows of ``X_unlabeled`` (an array, a memory map or a
        Zarr array, read where it lives), all unlabeled.

        ``X`` may be array-like, a memory map, a Zarr array or a PyTorch/CuPy array; a
        Dask array is refused (batch normalisation couples a batch's rows, which its
        chunks would split)."""
        hidden, lambdas = self._check_params()
        report = training_log(self)
        for name, rows in (("X", X), ("X_unlabeled", X_unlabeled)):
            if rows is not None and _xp.is_dask(rows):
                raise ValueError(
                    f"{type(self).__name__} trains in one process: batch normalization couples the rows of a "
                    f"batch, which a Dask array's chunks would split. Pass {name} as a NumPy array, a memory map "
                    f"or a Zarr array ({name}.compute(), or dask.array.to_zarr)."
                )
        X, y = check_fit_data(self, X, y, device=self.device, needs_y=True)
        more = None if X_unlabeled is None else check_unlabeled_data(self, X_unlabeled, X)
        labeled = labeled_rows(y, self.unlabeled_label)
        check_some_labeled(self, labeled)
        index = np.arange(X.shape[0]) if labeled is None else np.flatnonzero(labeled)
        self.classes_, targets = encode_labels(self, y[index], unlabeled=labeled is not None)
        rng = check_random_state(self.random_state)
        validation = None
        every_row = X  # the rows in their unlabeled role: all of X but the validation rows, then X_unlabeled
        if self.early_stopping:
            check_splittable(X)
            train, val = validation_rows(index.size, targets, self.validation_fraction, rng, stratify=True)
            validation = (_xp.to_numpy(take_rows(X, index[val])), targets[val])
            every_row = take_rows(X, np.setdiff1d(np.arange(X.shape[0]), index[val]))
            index, targets = index[train], targets[train]
        every_row = chain_rows(every_row, more)
        X_labeled = take_rows(X, index)
        sizes = (X.shape[1], *hidden, self.classes_.size)
        dtype = numpy_dtype(X.dtype)

        stale_names = ("n_iter_", "loss_", "loss_curve_", "validation_scores_", "best_validation_score_")
        for stale in (*stale_names, "interrupted_stage_"):
            self.__dict__.pop(stale, None)
        checkpoints = self._checkpoints(X_labeled, targets, rng, False, None, every_row)
        with _locked(None if checkpoints is None else checkpoints.path), opened(report):
            restored = self._restore(checkpoints, report, ["ladder"])
            resume = None
            if restored is not None:
                start, done, history, resume, _ = restored
                if start >= 1:  # a finished run: its folded network
                    self._restore_history(history)
                    self._keep(done, dtype)
                    return self
            result, monitor = self._train(
                X_labeled, targets, every_row, sizes, lambdas, rng, validation, checkpoints, resume, dtype, report
            )
            store_history(self, result, monitor)
            theta = np.asarray(host(result.theta), dtype=np.float64)
            self.ladder_theta_ = theta
            self.batch_statistics_ = self._statistics(theta, sizes, every_row, dtype)
            weights, biases = ladder_fold(theta, sizes, self.batch_statistics_)
            done = [(W.astype(dtype), b.astype(dtype)) for W, b in zip(weights, biases)]
            if result.interrupted:  # Ctrl-C: the network as it stood at the last whole epoch
                self.interrupted_stage_ = "ladder"
            elif checkpoints is not None:
                checkpoints.stage_done(1, done, {"n_iter": self.n_iter_, "loss_curve": self.loss_curve_})
            self._keep(done, dtype)
        return self

    def _keep(self, done, dtype):
        self.coefs_ = [np.asarray(W, dtype=dtype) for W, _ in done]
        self.intercepts_ = [np.asarray(b, dtype=dtype) for _, b in done]

    def _restore_history(self, history):
        self.n_iter_, self.loss_curve_ = int(history["n_iter"]), list(history["loss_curve"])
        self.loss_ = self.loss_curve_[-1] if self.loss_curve_ else float("nan")

    def _train(
        self, X_labeled, targets, every_row, sizes, lambdas, rng, validation, checkpoints, resume, dtype, report
    ):
        """The one stage: Adam on the Ladder objective, a labeled and an unlabeled batch a step."""
        n_labeled = X_labeled.shape[0]
        per_step = min(int(self.batch_size), n_labeled)
        decoder = any(lambdas)
        labels = on_rows_of(X_labeled, targets)
        unlabeled_mark = on_rows_of(X_labeled, np.full(int(self.batch_size), -1, dtype=targets.dtype))

        def fun(theta, rows):
            seed = int(rng.randint(2**31))  # the step's noise
            picked = np.arange(n_labeled) if per_step == n_labeled else np.sort(rng.choice(n_labeled, per_step, False))
            batch, y = take_rows(X_labeled, picked), take_labels(labels, picked)
            if decoder:
                unlabeled = take_rows(every_row, rows)
                batch = _concat(batch, unlabeled)
                y = _concat(y, unlabeled_mark[: unlabeled.shape[0]])
            spec = LadderSpec(sizes, lambdas, float(self.noise_std), per_step, seed)
            return ladder_cost_grad(rows_of(batch, y), theta, spec)

        monitor = None
        if validation is not None:
            X_val, t_val = validation

            def score(theta):
                S = ladder_scores(X_val, np.asarray(host(theta), dtype=X_val.dtype), sizes)
                return float(np.mean(np.argmax(S, axis=1) == t_val))

            monitor = EarlyStopping(score, int(self.n_iter_no_change))
        theta0 = ladder_init(sizes, rng, dtype)  # drawn before a resumed run's generator is restored, as at first
        if resume is not None:
            restore_rng(rng, resume["rng"])
        result = minibatch(
            fun,
            weights_like(X_labeled, theta0),
            every_row.shape[0],
            solver="adam",
            max_iter=int(self.max_iter),
            batch_size=int(self.batch_size),
            learning_rate=float(self.learning_rate),
            schedule="linear",
            decay_start=float(self.decay_start),
            rng=rng,
            stage="ladder",
            verbose=self.verbose > 0,
            checkpoint=None if checkpoints is None else checkpoints.during(0, [], {}),
            checkpoint_every=int(self.checkpoint_every) if checkpoints is not None else 0,
            resume=resume,
            monitor=monitor,
            report=report,
        )
        if monitor is not None:
            result = monitor.restore(result)
        return result, monitor

    @staticmethod
    def _statistics(theta, sizes, X, dtype):
        """Each layer's mean and standard deviation of ``h_{l-1} W_l`` on all the rows
        ``X`` (in float64), layer by layer: one product a layer, whose normalised
        values are the next layer's input (``relu((Z - mu) / s + beta)``)."""
        p = ladder_unpack(theta, sizes)
        statistics, features = [], X
        for layer in range(1, len(sizes)):
            Z = encode(features, [p[f"W{layer}"].astype(dtype)], [np.zeros(sizes[layer], dtype=dtype)], "linear")
            on_host = Z if _xp.is_numpy(Z) else _xp.to_numpy(Z)
            mu = on_host.mean(axis=0, dtype=np.float64)
            s = np.sqrt(on_host.var(axis=0, dtype=np.float64) + BN_EPSILON)
            statistics.append((mu, s))
            if layer < len(sizes) - 1:
                scale = weights_like(Z, (1.0 / s).astype(dtype))
                shift = weights_like(Z, (p[f"beta{layer}"] - mu / s).astype(dtype))
                features = relu(Z * scale + shift)
        return statistics


def _concat(a, b):
    if _xp.is_numpy(a):
        return np.concatenate([a, b])
    return _xp.namespace(a).concat([a, b])
