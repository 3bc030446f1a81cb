"""One base for every stacked model: greedy pretraining, an output head, fine-tuning.

:class:`StackedNetwork` holds what every stacked estimator does the same way (as
scikit-learn's ``BaseMultilayerPerceptron`` does for ``MLPClassifier`` and
``MLPRegressor``): the plan of stages, the fit loop over them, the history of each
stage, checkpoints and their resume, warm starts, :meth:`~StackedNetwork.from_layers`
and :meth:`~StackedNetwork.transform`. A subclass says what differs:

* :meth:`_head`: the output head (:mod:`stackae.heads`: the softmax, squared error,
  the input's reconstruction), whose stage trains the output layer on the last
  features when the head has targets;
* :meth:`_encode_targets`: ``y`` as the head takes it (class indices, a float matrix),
  setting the fitted attributes that describe it (``classes_``, ``n_outputs_``);
* :meth:`_output_settings`: the output stage's weight decay and iterations.

The network is the list of layers ``coefs_``/``intercepts_`` in the order data flows
through them: the encoders, then the output layer (or the decoders, in reverse
order, for the unsupervised deep autoencoder).
"""

from __future__ import annotations

import inspect
import numbers
import os
from dataclasses import replace

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from .. import _xp
from .._checkpoint import FolderLock, StageCheckpoints, fingerprint
from .._params import n_params, unpack
from .._xp import numpy_dtype
from ..exceptions import TrainingInterrupted
from ..heads import Head
from ..log import REPORTING_PARAMS, opened, training_log
from ..noise import level_of
from ..objectives import check_adversarial, feedforward
from ..optim import OptimizeResult
from ..presets import PRESET_ESTIMATORS, preset_params
from ._autoencoder import SparseAutoencoder
from ._data import (
    check_predict_X,
    host,
    weights_like,
)
from ._export import TorchExportMixin
from ._parameters import check_params, effective_params, given_name
from ._run import TrainingRun, fit_rows
from ._stages import (
    StageConfig,
    autoencoder_layers,
    pretrain_layer,
    train_output,
    warn_if_collapsed,
    warn_not_converged,
)
from ._validation import (
    check_autoencoder_params,
    check_dropout,
    check_hidden_sizes,
)

__all__ = ["StackedNetwork"]


def extended_init(base_init, **added):
    """An ``__init__`` taking the parameters of ``base_init`` (another estimator's) and
    ``added`` (keyword-only, with these defaults), storing each as an attribute of the
    same name, as scikit-learn's estimators do: for an estimator whose parameters
    extend another's, without a second copy of the list. Its signature is the whole
    list, which is where scikit-learn's ``get_params`` and ``clone`` read them."""
    base = inspect.signature(base_init)
    extra = [inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=d) for name, d in added.items()]
    signature = base.replace(parameters=[*base.parameters.values(), *extra])

    def __init__(self, *args, **kwargs):
        try:
            bound = signature.bind(self, *args, **kwargs)
        except TypeError as exc:  # as Python words it for a written-out __init__
            raise TypeError(f"{type(self).__name__}.__init__() {exc}") from None
        bound.apply_defaults()
        for name, value in list(bound.arguments.items())[1:]:
            setattr(self, name, value)

    __init__.__signature__ = signature
    return __init__


def _available_bytes():
    """Memory this machine has free now (Linux, macOS), or None where it cannot say."""
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def check_memory(config, sizes, X, hidden) -> None:
    """Refuse, before any work, a network whose training needs more memory than the
    machine has free: its parameters (float64 for L-BFGS on the host, the data's dtype
    for the minibatch solvers) times the copies the solver keeps (L-BFGS: the iterate,
    the gradient, a search direction and ``lbfgs_history`` pairs; SGD or Adam: the
    iterate, the gradient and one or two moments), and the widest layer's activations
    for a block of rows. An estimate: it names the numbers it used."""

    available = _available_bytes()
    if available is None or not _xp.on_host(X):  # a device's memory is its own
        return
    itemsize = 8 if config.solver == "lbfgs" else numpy_dtype(X.dtype).itemsize
    copies = 4 + 2 * config.lbfgs_history if config.solver == "lbfgs" else 5
    # the largest stage's: an autoencoder n-h-n pretrains each layer, then the whole network
    inputs = (sizes[0], *tuple(hidden)[:-1])
    count = max(n_params(sizes), *(n_params((n, h, n)) for n, h in zip(inputs, hidden)))
    rows = min(int(X.shape[0]), 4096 if config.solver == "lbfgs" else int(config.batch_size))
    needed = count * itemsize * copies + 4 * rows * max(sizes) * itemsize
    if needed > available:
        network = "-".join(map(str, sizes))
        raise MemoryError(
            f"The network {network} has a stage of {count:,} parameters; training it by "
            f"solver={config.solver!r} needs about {needed / 2**30:.1f} GiB ({copies} copies of them, and a block "
            f"of activations), more than the {available / 2**30:.1f} GiB this machine has free. Use smaller layers "
            f"(hidden_layer_sizes={tuple(hidden)})."
        )


class _locked:
    """A :class:`~stackae._checkpoint.FolderLock` on ``folder`` for a ``with`` block (none for None)."""

    def __init__(self, folder):
        self.lock = None if folder is None else FolderLock(folder)

    def __enter__(self):
        if self.lock is not None:
            self.lock.acquire()

    def __exit__(self, *exc):
        if self.lock is not None:
            self.lock.release()


class StackedNetwork(TorchExportMixin, TransformerMixin, BaseEstimator):
    """The shared machinery of the stacked estimators (see the module's docstring).

    Subclasses define ``__init__`` with their parameters (among them every name
    :class:`~stackae.estimators._stages.StageConfig` reads, ``hidden_layer_sizes``,
    ``pretrain_max_iter``, ``finetune_max_iter``, ``early_stopping``, ``random_state``,
    ``warm_start``, ``checkpoint_dir``, ``checkpoint_every``, ``dropout``) and the hooks.
    """

    #: whether ``fit`` needs ``y`` (the supervised heads)
    _needs_y = True
    #: whether the validation split is stratified by ``y`` (classifiers)
    _stratify = False

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True  # SciPy sparse X: made dense a block of rows at a time
        return tags

    # ------------------------------------------------------------------- hooks
    def _head(self) -> Head:
        raise NotImplementedError

    def _encode_targets(self, y):
        """``(targets, n_outputs)`` for training, setting the fitted attributes that
        describe ``y``; ``(None, n_features)`` for a head that reconstructs its input."""
        raise NotImplementedError

    def _output_settings(self) -> tuple[float, int, str]:
        """The output stage's weight decay, its iterations and that parameter's name (a
        deprecated name where the estimator was given it)."""
        params = effective_params(self)
        return params["output_alpha"], params["output_max_iter"], given_name(self, "output_max_iter")

    def _check_warm_targets(self, y_info) -> None:
        """Raise when a warm start's targets do not fit the fitted network."""

    def _config(self) -> StageConfig:
        return StageConfig.of(self)

    def _fit_data_options(self) -> dict:
        """Options of :func:`~._data.check_fit_data` for ``y`` (a regression's targets)."""
        return {}

    # ------------------------------------------------------------------ the plan
    def _network_sizes(self, n_features, hidden, n_outputs) -> tuple[int, ...]:
        """The layer sizes of the fine-tuned network."""
        return (n_features, *hidden, n_outputs)

    def _stages(self, hidden) -> list[str]:
        head = self._head()
        pretrain = [f"pretrain layer {layer}" for layer in range(1, len(hidden) + 1)]
        return pretrain + ([head.stage] if head.uses_y else []) + ["finetune"]

    def _keep_pretrained(self, done, index, encoder, decoder) -> None:
        """Put a pretrained layer's encoder (and, for a reconstruction head, its
        decoder) where it belongs in the network ``done``."""
        done.append(encoder)

    # ---------------------------------------------------------------- training
    def _check_params(self):
        check_params(self)  # each parameter alone, against the parameter table
        hidden = check_hidden_sizes(self.hidden_layer_sizes)
        levels = check_autoencoder_params(self, len(hidden))
        dropout = check_dropout(self, len(hidden))
        check_adversarial(self.adversarial, self.adversarial_weight)
        return hidden, levels, dropout

    def _record(self, stage: str, result: OptimizeResult, monitor=None) -> None:
        self.stage_costs_[stage] = result.cost
        self.n_iter_[stage] = result.n_iter
        self.loss_curve_[stage] = result.loss_curve
        self.stage_seconds_[stage] = result.seconds
        self.stage_profile_[stage] = {
            "evaluations": result.n_evaluations,
            "evaluation_seconds": result.evaluation_seconds,
        }
        if monitor is not None:
            self.validation_scores_[stage] = monitor.scores
            self.best_validation_score_[stage] = monitor.best_score

    def _reset_history(self) -> None:
        self.stage_costs_: dict = {}
        self.n_iter_: dict = {}
        self.loss_curve_: dict = {}
        self.stage_seconds_: dict = {}
        self.stage_profile_: dict = {}
        for name in ("validation_scores_", "best_validation_score_", "interrupted_stage_"):
            self.__dict__.pop(name, None)
        if self.early_stopping:
            self.validation_scores_: dict = {}
            self.best_validation_score_: dict = {}

    def _history(self) -> dict:
        return {
            "stage_costs": self.stage_costs_,
            "n_iter": self.n_iter_,
            "loss_curve": self.loss_curve_,
            "stage_seconds": self.stage_seconds_,
        }

    def _check_warm_start(self, hidden, y_info) -> None:
        fitted = tuple(W.shape[1] for W in self.coefs_[: self._n_code_layers])
        if fitted != hidden:
            raise ValueError(
                f"warm_start=True needs the fitted hidden layer sizes {fitted}, got "
                f"hidden_layer_sizes={hidden}; set warm_start=False to train a new network."
            )
        self._check_warm_targets(y_info)

    @classmethod
    def from_preset(cls, name: str, **params):
        """The named recipe ``name`` of :mod:`stackae.presets` (``"ufldl"``, ``"fast"``,
        ``"best"`` for the stacked classifier; ``"ladder"``, ``"ladder-1000"``,
        ``"ladder-100"`` for the Ladder network), with ``params`` overriding its settings."""

        settings = preset_params(name)  # an unknown name's error first
        owner = PRESET_ESTIMATORS[name]
        if owner != cls.__name__:
            raise ValueError(f"The preset {name!r} is a {owner}'s; use {owner}.from_preset({name!r}).")
        return cls(**{**settings, **params})

    @staticmethod
    def _layer_pairs(layers):
        """``(W, b)`` NumPy pairs of ``layers`` (fitted SparseAutoencoders or pairs), checked to chain."""
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
        return weights, biases

    @classmethod
    def _assemble(cls, weights, biases, params, **fitted):
        """An estimator of ``params`` holding the network ``weights``/``biases``, ready
        to predict and to be fine-tuned by ``fit`` (``warm_start``)."""
        params["warm_start"] = True
        est = cls(**params)
        dtype = np.result_type(*weights)
        est.coefs_ = [W.astype(dtype) for W in weights]
        est.intercepts_ = [b.astype(dtype) for b in biases]
        est.pretrained_coefs_ = [W.copy() for W in est.coefs_]
        est.pretrained_intercepts_ = [b.copy() for b in est.intercepts_]
        for name, value in fitted.items():
            setattr(est, name, value)
        est.n_features_in_ = weights[0].shape[0]
        est._reset_history()
        return est

    def _labeled_rows(self, y):
        """The mask of ``y``'s labeled rows (a classifier's ``y == -1`` marks unlabeled
        ones), or None when every row is labeled or the model has no labels."""
        return None

    def _row_weights(self, y, sample_weight):
        """The rows' weights in the supervised stages (the output layer, fine-tuning):
        ``sample_weight`` (checked), times the classes' weights for a classifier with
        ``class_weight``; None when every row weighs 1. Pretraining takes
        ``sample_weight`` alone: a class's weight is about the labels, which the
        autoencoders do not see."""
        return sample_weight

    def _checkpoints(self, X, targets, rng, warm: bool, weights=None, pretrain_X=None):
        if self.checkpoint_dir is None:
            return None
        skip = ("verbose", "checkpoint_dir", "checkpoint_every", "warm_start", "device", *REPORTING_PARAMS)
        params = {k: v for k, v in effective_params(self).items() if k not in skip}
        params["warm_started"] = warm  # a warm start's checkpoints begin from other weights
        if weights is not None:  # another weighting is another run
            import hashlib

            params["sample_weight"] = hashlib.blake2b(np.ascontiguousarray(weights).data, digest_size=16).hexdigest()
        if isinstance(self.random_state, np.random.RandomState):
            params["random_state"] = "RandomState"
        if pretrain_X is not None:  # the unlabeled rows are the run's data too
            params["pretraining_rows"] = fingerprint(pretrain_X, None, {})
        return StageCheckpoints(self.checkpoint_dir, self.checkpoint_every, fingerprint(X, targets, params), rng)

    @staticmethod
    def _restore(checkpoints, report, stages):
        """What ``checkpoints`` (or None) saved of an unfinished run of the plan ``stages``,
        or None. A run that goes on from them appends to its training log ``report``,
        which first drops the records past the checkpoint (the run does those
        iterations again), so that each iteration is in the log once."""
        restored = checkpoints.restore() if checkpoints is not None else None
        if restored is not None and report is not None:
            report.append = True
            start, resume = restored[0], restored[3]
            stage = stages[start] if start < len(stages) else None
            report.resume_at(stages[:start], stage, None if resume is None else resume["iteration"])
        return restored

    def _fit(self, X, y, sample_weight=None, X_unlabeled=None):
        """Pretrain, train the output layer, fine-tune (see the subclasses' ``fit``).

        ``sample_weight``: every stage minimises the weighted mean of the rows' costs
        (integer weights equal repeated rows); the validation scores are not weighted.

        Unlabeled rows (a classifier's ``y == -1``, and ``X_unlabeled``) are pretrained
        on; the output layer, fine-tuning and the validation split take the labeled
        rows alone (:func:`~._run.fit_rows`). The stages run in a
        :class:`~._run.TrainingRun`."""
        hidden, levels, dropout = self._check_params()
        report = training_log(self)
        warm = bool(self.warm_start) and hasattr(self, "coefs_")
        rows = fit_rows(self, X, y, sample_weight, X_unlabeled, warm)
        config = replace(self._config(), report=report, dropout=dropout)
        sizes = self._network_sizes(rows.X.shape[1], hidden, rows.n_outputs)
        checkpoints = self._checkpoints(
            rows.X, rows.targets, rows.rng, warm, rows.supervised if rows.weights is None else rows.weights,
            rows.pretrain_X if rows.semi else None,
        )  # fmt: skip
        check_memory(config, sizes, rows.X, hidden)
        run = TrainingRun(self, rows, config, sizes, self._stages(hidden), hidden, levels, checkpoints, warm)
        # one training a folder at a time: two would delete each other's checkpoints
        with _locked(None if checkpoints is None else checkpoints.path), opened(report):
            done = run.execute()
            self.coefs_ = [W for W, _ in done]
            self.intercepts_ = [b for _, b in done]
            return self

    def _stop(self, stage, index, n_pretraining, done, warm, checkpoints) -> None:
        """After Ctrl-C in stage ``index``: the later stages do not run. With an output
        layer (cut in its own stage or in fine-tuning) the network as it stands is the
        model, ``interrupted_stage_`` naming the stage cut short; before it, there is
        no network to predict with, and :class:`~stackae.exceptions.TrainingInterrupted`
        says so. The cut stage is not marked done in the checkpoints: resuming continues
        it from its last checkpoint."""

        self.interrupted_stage_ = stage
        if index < n_pretraining:
            where = f"; resume from the checkpoints in '{self.checkpoint_dir}'" if checkpoints is not None else ""
            raise TrainingInterrupted(
                f"Training was interrupted in stage '{stage}' after {self.n_iter_[stage]} iterations, before the "
                f"network had an output layer: there is no model to predict with{where}.",
                stage,
            )
        if stage != "finetune" and not warm:  # the output layer alone: the pretrained network is all there is
            self.pretrained_coefs_ = [W.copy() for W, _ in done]
            self.pretrained_intercepts_ = [b.copy() for _, b in done]

    def _pretrain(self, config, features, index, hidden, done, rng, levels, resumable, dtype):
        """Pretrain hidden layer ``index + 1`` on the features below it; keeps its layers in ``done``."""
        stage = f"pretrain layer {index + 1}"
        X, X_val = features.at(index, done)
        n_in = X.shape[1]
        result, monitor = pretrain_layer(
            config,
            X,
            hidden[index],
            max_iter=self.pretrain_max_iter,
            rng=rng,
            stage=stage,
            noise_level=level_of(levels, index),
            validation=X_val,
            **resumable,
        )
        warn_not_converged(result, stage, "pretrain_max_iter", self.pretrain_max_iter)
        W1, W2, b1, b2 = autoencoder_layers(config, result.theta, n_in, hidden[index], dtype)
        self._keep_pretrained(done, index, (W1, b1), (W2, b2))
        warn_if_collapsed(features.advance((W1, b1)), stage, config)
        return result, monitor

    def _train_output(self, config, features, index, targets, n_outputs, done, rng, validation, resumable, dtype):
        """Train the output layer alone on the last features; appends it to ``done``."""
        head = self._head()
        alpha, max_iter, param = self._output_settings()
        X, X_val = features.supervised(index, done)
        result, monitor = train_output(
            config,
            X,
            targets,
            n_outputs,
            head,
            alpha=alpha,
            max_iter=max_iter,
            rng=rng,
            stage=head.stage,
            validation=None if X_val is None else (X_val, validation[1]),
            **resumable,
        )
        warn_not_converged(result, head.stage, param, max_iter)
        (W, ), (b, ) = unpack(np.asarray(host(result.theta), dtype=dtype), (X.shape[1], n_outputs))  # fmt: skip
        done.append((W.copy(), b.copy()))
        return result, monitor

    # -------------------------------------------------------------- inference
    def _weights(self, pretrained: bool):
        check_is_fitted(self)
        if pretrained:
            if not hasattr(self, "pretrained_coefs_"):
                raise ValueError("This model holds no pretrained weights (it was warm-started).")
            return self.pretrained_coefs_, self.pretrained_intercepts_
        return self.coefs_, self.intercepts_

    def _scores(self, X, pretrained=False):
        """The output layer's input times its weights: the head's scores ``S``, shape
        (n_samples, n_outputs), in ``X``'s namespace."""
        weights, biases = self._weights(pretrained)
        X = check_predict_X(self, X)
        weights = [weights_like(X, W) for W in weights]
        biases = [weights_like(X, b) for b in biases]
        return (
            feedforward(X, weights[:-1], biases[:-1], self.activation) @ weights[-1] + biases[-1]
        )  # (m, n_L) @ (n_L, k)

    @property
    def _n_code_layers(self) -> int:
        """Hidden layers ``transform`` may return (all but the output layer)."""
        return len(self.coefs_) - 1

    def _check_layer(self, layer) -> int:
        n_layers = self._n_code_layers
        layer = n_layers if layer is None else layer
        if isinstance(layer, bool) or not isinstance(layer, numbers.Integral) or not 1 <= int(layer) <= n_layers:
            raise ValueError(f"'layer' must be an integer in 1..{n_layers}, got {layer!r}.")
        return int(layer)

    def transform(self, X, layer=None):
        """Activations of hidden layer ``layer`` (1..L; default the last), shape (n_samples, n_layer)."""
        check_is_fitted(self)
        layer = self._check_layer(layer)
        X = check_predict_X(self, X)
        weights = [weights_like(X, W) for W in self.coefs_[:layer]]
        biases = [weights_like(X, b) for b in self.intercepts_[:layer]]
        return feedforward(X, weights, biases, self.activation)

    def get_feature_names_out(self, input_features=None):
        """Names of ``transform``'s columns (its default layer): ``<class name lowercased><i>``."""
        from sklearn.utils.validation import _check_feature_names_in

        check_is_fitted(self)
        _check_feature_names_in(self, input_features)
        width = self.coefs_[self._n_code_layers - 1].shape[1]
        prefix = type(self).__name__.lower()
        return np.asarray([f"{prefix}{i}" for i in range(width)], dtype=object)
