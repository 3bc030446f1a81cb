"""Greedy layer-wise pretraining, a softmax on top, fine-tuning: UFLDL's recipe, and more."""

from __future__ import annotations

import numbers

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, TransformerMixin
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted

from .._checkpoint import StageCheckpoints, fingerprint
from .._params import unpack
from ..noise import level_of
from ..objectives import check_adversarial, feedforward
from ..optim import OptimizeResult
from ._autoencoder import SparseAutoencoder
from ._data import check_fit_data, check_predict_X, host, split_validation, weights_like
from ._softmax import SoftmaxOutputMixin, SoftmaxRegression, encode_labels
from ._stages import (
    autoencoder_layers,
    finetune,
    pretrain_layer,
    stage_features,
    train_softmax,
    warn_if_collapsed,
    warn_not_converged,
)
from ._validation import (
    check_autoencoder_params,
    check_choice,
    check_dropout,
    check_float,
    check_hidden_sizes,
    check_int,
)

__all__ = ["StackedAutoencoderClassifier"]


class StackedAutoencoderClassifier(SoftmaxOutputMixin, ClassifierMixin, TransformerMixin, BaseEstimator):
    r"""Stacked autoencoders + softmax, fine-tuned by backpropagation.

    Training runs UFLDL's three steps, each by L-BFGS (or the minibatch ``solver``):

    1. greedy layer-wise pretraining: an autoencoder on ``X``, another on the first
       one's hidden activations, and so on (one per entry of ``hidden_layer_sizes``);
    2. a softmax classifier on the last layer's features;
    3. fine-tuning: all layers and the softmax as one network, every weight optimised
       at once on :func:`stackae.objectives.stack_cost`.

    The defaults are UFLDL's exercise (sparse sigmoid autoencoders, L-BFGS). The
    autoencoders may also be denoising (``noise``), tied, contractive, with tanh or
    ReLU units; fine-tuning may use dropout and a max-norm constraint; every stage may
    stop early on a validation split. :mod:`stackae.presets` holds named recipes.

    Parameters
    ----------
    hidden_layer_sizes : sequence of int, default=(200, 200)
    alpha : float, default=3e-3
        Weight decay of the autoencoders during pretraining.
    sparsity_target : float, default=0.1
    sparsity_weight : float, default=3.0
        Must be 0 with tanh or ReLU units.
    activation : {"sigmoid", "tanh", "relu"}, default="sigmoid"
        Hidden units, in pretraining and in the fine-tuned network.
    output_activation : {"sigmoid", "linear"}, default="sigmoid"
        The autoencoders' reconstruction units.
    reconstruction_loss : {"squared", "cross_entropy"}, default="squared"
    tied_weights : bool, default=False
    noise : {None, "masking", "gaussian", "salt_and_pepper"}, default=None
        Pretrain denoising autoencoders (see :class:`SparseAutoencoder`).
    noise_level : float or sequence of float, default=0.2
        One level for every layer, or one per layer (as Theano's SdA: 0.1, 0.2, 0.3).
    contraction : float, default=0.0
    softmax_alpha : float, default=1e-4
        Weight decay in the softmax step and in fine-tuning (on ``Theta`` only, or on
        every weight matrix with ``finetune_decay="all"``).
    pretrain_max_iter, softmax_max_iter, finetune_max_iter : int, default=400
        L-BFGS iterations (epochs for the minibatch solvers) of each step;
        ``finetune_max_iter=0`` keeps the pretrained network as it is.
    finetune_decay : {"softmax", "all"}, default="softmax"
        Which weights carry decay while fine-tuning (UFLDL: the softmax only).
    dropout : float or sequence of float, default=0.0
        Dropout while fine-tuning: a drop probability for every hidden layer, or
        ``(input, hidden 1, ..., hidden L)``. With L-BFGS the masks are drawn once for
        the stage; the minibatch solvers draw new masks every step.
    max_norm : float or None, default=None
        Keep every hidden unit's incoming weight vector within this norm while
        fine-tuning (minibatch solvers only).
    adversarial : float, default=0.0
        Adversarial training while fine-tuning (Goodfellow et al. 2015): every
        evaluation also scores its rows moved by ``adversarial`` times the sign of the
        cost's gradient with respect to them, and minimises
        ``(1 - adversarial_weight) J(X) + adversarial_weight J(X + eps sign(grad_X J))``
        (see :func:`stackae.objectives.stack_cost`). A step costs 2.4 times one
        without it at the ``best`` preset's size.
    adversarial_weight : float, default=0.5
    tol : float, default=1e-6
    solver : {"lbfgs", "sgd", "adam"}, default="lbfgs"
        ``"lbfgs"``: full-batch L-BFGS, as UFLDL (``max_iter`` counts iterations);
        ``"sgd"`` and ``"adam"``: minibatches, reshuffled every epoch from
        ``random_state`` (``max_iter`` counts epochs; reaching it is the plan, not a
        convergence failure). Float32 input trains in float32.
    batch_size : int, default=256
        Samples per minibatch (``"sgd"``, ``"adam"``).
    learning_rate : float or None, default=None
        Step size of ``"sgd"``/``"adam"``; ``None``: 0.1 for sgd, 1e-3 for adam.
    finetune_learning_rate : float or None, default=None
        Step size of the fine-tuning stage; ``None``: ``learning_rate``.
    momentum : float, default=0.9
    nesterovs_momentum : bool, default=False
    learning_rate_schedule : {"constant", "linear", "cosine"}, default="constant"
        Decay of the minibatch step size over each stage's epochs.
    lbfgs_history : int, default=10
        Correction pairs L-BFGS keeps. UFLDL's minFunc kept 100; on its MNIST protocol
        100 pairs reached no better accuracy than 10 and took 19% longer (see the README).
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the samples (stratified); score every stage
        on them after every iteration (epoch): minus the mean reconstruction loss for
        pretraining, the accuracy for the softmax and fine-tuning; stop a stage after
        ``n_iter_no_change`` without improvement and keep its best weights.
    validation_fraction : float, default=0.1
    n_iter_no_change : int, default=10
    device : str, default="cpu"
        ``"cuda"`` or ``"cuda:N"``: train on that GPU (NumPy input moved there once,
        float32 unless float64). PyTorch or CuPy input trains where it lives; a Dask
        array trains on its cluster.
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
    stage_profile_ : dict
        Per stage: evaluations of the objective and the seconds spent in them.
    validation_scores_, best_validation_score_ : dict
        With ``early_stopping``: per stage, the score after each iteration and the
        best one (whose weights were kept).
    n_features_in_ : int

    References
    ----------
    UFLDL Tutorial, "Fine-tuning Stacked AEs",
    http://ufldl.stanford.edu/wiki/index.php/Fine-tuning_Stacked_AEs ;
    P. Vincent et al., "Stacked Denoising Autoencoders", JMLR 11 (2010);
    N. Srivastava et al., "Dropout", JMLR 15 (2014).
    """

    def __init__(
        self,
        hidden_layer_sizes=(200, 200),
        *,
        alpha=3e-3,
        sparsity_target=0.1,
        sparsity_weight=3.0,
        activation="sigmoid",
        output_activation="sigmoid",
        reconstruction_loss="squared",
        tied_weights=False,
        noise=None,
        noise_level=0.2,
        contraction=0.0,
        softmax_alpha=1e-4,
        pretrain_max_iter=400,
        softmax_max_iter=400,
        finetune_max_iter=400,
        finetune_decay="softmax",
        dropout=0.0,
        max_norm=None,
        adversarial=0.0,
        adversarial_weight=0.5,
        tol=1e-6,
        solver="lbfgs",
        batch_size=256,
        learning_rate=None,
        finetune_learning_rate=None,
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
        warm_start=False,
        checkpoint_dir=None,
        checkpoint_every=10,
    ):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.alpha = alpha
        self.sparsity_target = sparsity_target
        self.sparsity_weight = sparsity_weight
        self.activation = activation
        self.output_activation = output_activation
        self.reconstruction_loss = reconstruction_loss
        self.tied_weights = tied_weights
        self.noise = noise
        self.noise_level = noise_level
        self.contraction = contraction
        self.softmax_alpha = softmax_alpha
        self.pretrain_max_iter = pretrain_max_iter
        self.softmax_max_iter = softmax_max_iter
        self.finetune_max_iter = finetune_max_iter
        self.finetune_decay = finetune_decay
        self.dropout = dropout
        self.max_norm = max_norm
        self.adversarial = adversarial
        self.adversarial_weight = adversarial_weight
        self.tol = tol
        self.solver = solver
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.finetune_learning_rate = finetune_learning_rate
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
        self.warm_start = warm_start
        self.checkpoint_dir = checkpoint_dir
        self.checkpoint_every = checkpoint_every

    # ---------------------------------------------------------------- training
    def _check_params(self):
        hidden = check_hidden_sizes(self.hidden_layer_sizes)
        levels = check_autoencoder_params(self, len(hidden))
        check_float("softmax_alpha", self.softmax_alpha, 0.0)
        for name in ("pretrain_max_iter", "softmax_max_iter", "finetune_max_iter"):
            check_int(name, getattr(self, name), 0)
        check_int("checkpoint_every", self.checkpoint_every, 1)
        check_choice("finetune_decay", self.finetune_decay, ("softmax", "all"))
        if self.finetune_learning_rate is not None:
            check_float("finetune_learning_rate", self.finetune_learning_rate, 0.0, open_low=True)
        rates = check_dropout(self, len(hidden))
        check_adversarial(self.adversarial, self.adversarial_weight)
        return hidden, levels, rates

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
        self.stage_costs_, self.n_iter_, self.loss_curve_, self.stage_seconds_ = {}, {}, {}, {}
        self.stage_profile_ = {}
        for name in ("validation_scores_", "best_validation_score_"):
            self.__dict__.pop(name, None)
        if self.early_stopping:
            self.validation_scores_, self.best_validation_score_ = {}, {}

    def _history(self) -> dict:
        return {
            "stage_costs": self.stage_costs_,
            "n_iter": self.n_iter_,
            "loss_curve": self.loss_curve_,
            "stage_seconds": self.stage_seconds_,
        }

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
    def from_preset(cls, name: str, **params):
        """The named recipe ``name`` of :mod:`stackae.presets` (``"ufldl"``, ``"fast"``,
        ``"best"``), with ``params`` overriding its settings."""
        from ..presets import preset_params

        return cls(**{**preset_params(name), **params})

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
        est._reset_history()
        return est

    def _stages(self, hidden) -> list[str]:
        return [f"pretrain layer {layer}" for layer in range(1, len(hidden) + 1)] + ["softmax", "finetune"]

    def _checkpoints(self, X, y_index, rng, warm: bool):
        if self.checkpoint_dir is None:
            return None
        skip = ("verbose", "checkpoint_dir", "checkpoint_every", "warm_start", "device")
        params = {k: v for k, v in self.get_params().items() if k not in skip}
        params["warm_started"] = warm  # a warm start's checkpoints begin from other weights
        if isinstance(self.random_state, np.random.RandomState):
            params["random_state"] = "RandomState"
        return StageCheckpoints(self.checkpoint_dir, self.checkpoint_every, fingerprint(X, y_index, params), rng)

    def fit(self, X, y):
        """Pretrain, train the softmax, fine-tune. ``X`` of shape (n_samples, n_features).

        ``X`` may be array-like, a NumPy memory map, a Zarr array, a PyTorch/CuPy array
        or a Dask array (see :mod:`stackae.estimators`). With ``warm_start=True`` on a
        fitted estimator, only fine-tune. With ``checkpoint_dir`` holding checkpoints
        of this same run (same data and hyperparameters), continue from the newest
        valid one.
        """
        hidden, levels, rates = self._check_params()
        warm = bool(self.warm_start) and hasattr(self, "coefs_")
        X, y = check_fit_data(self, X, y, reset=not warm, device=self.device, needs_y=True)
        classes, y_index = encode_labels(self, y)
        rng = check_random_state(self.random_state)
        validation = None
        if self.early_stopping:
            X, y_index, X_val, y_val = split_validation(X, y_index, self.validation_fraction, rng, stratify=True)
            validation = (X_val, y_val)
        stages = self._stages(hidden)
        checkpoints = self._checkpoints(X, y_index, rng, warm)
        dtype = np.dtype(str(X.dtype).rsplit(".", 1)[-1])

        # done: (W, b) of each finished pretraining layer, then of the softmax
        start, resume = 0, None
        if warm:
            self._check_warm_start(hidden, classes)
            done = list(zip(self.coefs_, self.intercepts_))
            start = len(stages) - 1
            self.__dict__.setdefault("stage_profile_", {})
            if self.early_stopping:
                self.__dict__.setdefault("validation_scores_", {})
                self.__dict__.setdefault("best_validation_score_", {})
        else:
            self.classes_ = classes
            self._reset_history()
            for stale in ("pretrained_coefs_", "pretrained_intercepts_"):
                self.__dict__.pop(stale, None)
            done = []
            restored = checkpoints.restore() if checkpoints is not None else None
            if restored is not None:
                start, done, history, resume, pretrained = restored
                if pretrained:
                    self.pretrained_coefs_ = [W.astype(dtype) for W, _ in pretrained]
                    self.pretrained_intercepts_ = [b.astype(dtype) for _, b in pretrained]
                self.stage_costs_, self.n_iter_ = history["stage_costs"], history["n_iter"]
                self.loss_curve_, self.stage_seconds_ = history["loss_curve"], history["stage_seconds"]
                done = [(W.astype(dtype), b.astype(dtype)) for W, b in done]

        for index in range(start, len(stages)):
            stage = stages[index]
            history = self._history()
            resumable = {"resume": resume}
            if checkpoints is not None:
                resumable["checkpoint"] = checkpoints.during(index, done, history)
            resume = None
            result, monitor, layers = self._run_stage(
                stage, index, X, y_index, classes, hidden, done, rng, resumable, levels, rates, validation, dtype
            )
            self._record(stage, result, monitor)
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

    def _run_stage(
        self, stage, index, X, y_index, classes, hidden, done, rng, resumable, levels, rates, validation, dtype
    ):
        """Train ``stage`` (``stages[index]``) on top of the finished layers ``done``.

        Returns the optimizer's result, the early-stopping monitor (or None) and the
        trained layers as NumPy ``(W, b)`` pairs of ``dtype``: the new hidden layer, the
        softmax, or the whole fine-tuned stack.
        """
        if stage == "finetune":
            result, monitor = finetune(
                self,
                X,
                y_index,
                done,
                hidden,
                classes.size,
                rng=rng,
                stage=stage,
                validation=validation,
                rates=rates,
                **resumable,
            )
            warn_not_converged(result, stage, "finetune_max_iter", self.finetune_max_iter)
            weights, biases = unpack(np.asarray(host(result.theta), dtype=dtype), (X.shape[1], *hidden, classes.size))
            return result, monitor, [(W.copy(), b.copy()) for W, b in zip(weights, biases)]

        # the input of this stage: the features of the finished layers below it
        features = stage_features(X, done[:index], self.activation)
        val = None
        if validation is not None:
            val = stage_features(validation[0], done[:index], self.activation)
        n_in = features.shape[1]
        if stage == "softmax":
            result, monitor = train_softmax(
                self,
                features,
                y_index,
                classes.size,
                alpha=self.softmax_alpha,
                max_iter=self.softmax_max_iter,
                rng=rng,
                stage=stage,
                validation=None if val is None else (val, validation[1]),
                **resumable,
            )
            warn_not_converged(result, stage, "softmax_max_iter", self.softmax_max_iter)
            (Theta,), (c,) = unpack(np.asarray(host(result.theta), dtype=dtype), (n_in, classes.size))
            return result, monitor, [(Theta.copy(), c.copy())]
        result, monitor = pretrain_layer(
            self,
            features,
            hidden[index],
            max_iter=self.pretrain_max_iter,
            rng=rng,
            stage=stage,
            noise_level=level_of(levels, index),
            validation=val,
            **resumable,
        )
        warn_not_converged(result, stage, "pretrain_max_iter", self.pretrain_max_iter)
        W1, _, b1, _ = autoencoder_layers(self, result.theta, n_in, hidden[index], dtype)
        warn_if_collapsed(stage_features(features, [(W1, b1)], self.activation), stage)
        return result, monitor, [(W1, b1)]

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
        X = check_predict_X(self, X)
        weights = [weights_like(X, W) for W in weights]
        biases = [weights_like(X, b) for b in biases]
        return (
            feedforward(X, weights[:-1], biases[:-1], self.activation) @ weights[-1] + biases[-1]
        )  # (m, n_L) @ (n_L, k)

    def transform(self, X, layer=None):
        """Activations of hidden layer ``layer`` (1..L; default the last), shape (n_samples, n_layer)."""
        check_is_fitted(self)
        n_layers = len(self.coefs_) - 1
        layer = n_layers if layer is None else layer
        if isinstance(layer, bool) or not isinstance(layer, numbers.Integral) or not 1 <= layer <= n_layers:
            raise ValueError(f"'layer' must be an integer in 1..{n_layers}, got {layer!r}.")
        X = check_predict_X(self, X)
        weights = [weights_like(X, W) for W in self.coefs_[:layer]]
        biases = [weights_like(X, b) for b in self.intercepts_[:layer]]
        return feedforward(X, weights, biases, self.activation)
