"""One fit of a stacked network, owned by one object.

:func:`fit_rows` splits what ``fit`` was given once, into the rows each stage trains on
(:class:`FitRows`: the labeled rows and their encoded targets, the pretraining rows,
the validation split, the two weightings); :class:`TrainingRun` runs the plan of
stages over them: a warm start or a resume from checkpoints, each stage in turn with
its checkpoints, and Ctrl-C ending the run where it stands. The estimator supplies the
plan and what each stage does (its ``_pretrain``, ``_train_output``, ``_record`` and
``_stop``); the run supplies the order, the resume and the bookkeeping.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.utils import check_random_state

from .._params import unpack
from .._xp import numpy_dtype
from ._data import (
    chain_rows,
    check_fit_data,
    check_fit_weights,
    check_unit_interval,
    check_unlabeled_data,
    host,
    split_validation,
    take_rows,
)
from ._softmax import check_some_labeled
from ._stages import finetune, stage_features, warn_not_converged

__all__ = ["FitRows", "fit_rows", "TrainingRun"]


@dataclass
class FitRows:
    """The rows of one fit, split once.

    ``X``, ``targets``: the supervised stages' rows (the labeled ones, less the
    validation split) and their encoded targets (None for a reconstruction);
    ``weights``: their ``sample_weight`` (None: every row weighs 1); ``supervised``:
    the weights of the supervised stages (times the classes' weights);
    ``pretrain_X``, ``pretrain_w``: the rows the autoencoders train on (every row,
    labeled or not, then ``X_unlabeled``'s) and their weights; ``validation``:
    ``(X_val, targets_val)`` or None; ``semi``: whether unlabeled rows take part;
    ``y_info``: the fitted attributes that describe ``y``; ``rng``: the fit's generator."""

    X: Any
    targets: Any
    n_outputs: int
    weights: Any
    supervised: Any
    pretrain_X: Any
    pretrain_w: Any
    validation: tuple | None
    semi: bool
    y_info: dict
    rng: np.random.RandomState


def _rows_of_weights(weights, mask):
    return None if weights is None else weights[mask]


def _with_rows(X, weights, more, more_weights=None):
    """``X``'s rows then ``more``'s (:func:`~._data.chain_rows`; ``X`` itself for None),
    with their weights: None where ``X``'s are, ``more``'s 1 unless given."""
    if more is None:
        return X, weights
    if weights is not None:
        weights = np.concatenate([weights, np.ones(more.shape[0]) if more_weights is None else more_weights])
    return chain_rows(X, more), weights


def fit_rows(est, X, y, sample_weight, X_unlabeled, warm: bool) -> FitRows:
    """Check and split the rows of ``est.fit(X, y, sample_weight, X_unlabeled)``: unlabeled
    rows (a classifier's ``y == -1``, and ``X_unlabeled``) are pretrained on; the output
    layer, fine-tuning and the validation split take the labeled rows alone."""
    X, y = check_fit_data(est, X, y, reset=not warm, device=est.device, needs_y=est._needs_y, **est._fit_data_options())
    more = None if X_unlabeled is None else check_unlabeled_data(est, X_unlabeled, X)
    if est.reconstruction_loss == "cross_entropy" and not warm:
        for rows in (X, more):
            if rows is not None:
                check_unit_interval(rows, "reconstruction_loss='cross_entropy'")
    weights = check_fit_weights(sample_weight, X.shape[0])
    labeled = est._labeled_rows(y)
    check_some_labeled(est, labeled)
    est._has_unlabeled = labeled is not None  # for the messages about the labeled rows
    # the pretraining rows: every row of X (labeled or not), then X_unlabeled's
    pretrain_X, pretrain_w = _with_rows(X, weights, more)
    unlabeled = (None, None)  # X's unlabeled rows apart, where a validation split needs them so
    if labeled is not None:
        if est.early_stopping:
            unlabeled = (take_rows(X, np.flatnonzero(~labeled), dense=False), _rows_of_weights(weights, ~labeled))
        X, y = take_rows(X, np.flatnonzero(labeled), dense=False), y[labeled]
        weights = _rows_of_weights(weights, labeled)
    semi = labeled is not None or more is not None
    supervised = est._row_weights(y, weights)
    fitted_before = {k: v for k, v in est.__dict__.items() if k in ("classes_", "n_outputs_")}
    targets, n_outputs = est._encode_targets(y)
    y_info = {k: getattr(est, k) for k in ("classes_", "n_outputs_") if hasattr(est, k)}
    if warm:
        est.__dict__.update(fitted_before)  # the fitted network's description stays until checked
    rng = check_random_state(est.random_state)
    validation = None
    if est.early_stopping:
        both = (
            None
            if supervised is None
            else np.column_stack([np.ones_like(supervised) if weights is None else weights, supervised])
        )
        X, targets, X_val, t_val, both = split_validation(
            X, targets, est.validation_fraction, rng, stratify=est._stratify, sample_weight=both
        )
        if both is not None:  # the two weightings of the training rows, split alike
            weights = None if weights is None else both[:, 0]
            supervised = both[:, 1]
        validation = (X_val, t_val)
        # pretraining leaves the validation rows out too
        every_X, every_w = _with_rows(X, weights, unlabeled[0], unlabeled[1])
        pretrain_X, pretrain_w = _with_rows(every_X, every_w, more)
    return FitRows(X, targets, n_outputs, weights, supervised, pretrain_X, pretrain_w, validation, semi, y_info, rng)


class _Features:
    """The input of the stage at ``depth`` (``X`` through the first ``depth`` finished
    layers), kept from one stage to the next so that no stage encodes the data through
    all the layers below it again."""

    def __init__(self, X, X_val, activation, labeled=None):
        self.X, self.X_val, self.activation = X, X_val, activation
        self.depth, self.train, self.val = 0, X, X_val
        self.labeled = labeled  # the supervised stages' rows where they are not X's (unlabeled rows)

    def at(self, depth, done):
        if depth != self.depth:  # a resumed run: encode once through what is finished
            self.train = stage_features(self.X, done[:depth], self.activation)
            self.val = None if self.X_val is None else stage_features(self.X_val, done[:depth], self.activation)
            self.depth = depth
        return self.train, self.val

    def supervised(self, depth, done):
        """The supervised stages' rows and validation rows through the first ``depth``
        finished layers: the labeled rows alone where ``X`` also holds unlabeled ones."""
        train, val = self.at(depth, done)
        if self.labeled is None:
            return train, val
        return stage_features(self.labeled, done[:depth], self.activation), val

    def advance(self, layer):
        """The features one layer up (``layer`` the new ``(W, b)``), returned for the training rows."""
        self.train = stage_features(self.train, [layer], self.activation)
        if self.val is not None:
            self.val = stage_features(self.val, [layer], self.activation)
        self.depth += 1
        return self.train


class TrainingRun:
    """The plan of stages ``stages`` of estimator ``est`` run over ``rows``: from a warm
    start (fine-tuning alone), from the checkpoints of the same run, or from the start."""

    def __init__(self, est, rows: FitRows, config, sizes, stages, hidden, levels, checkpoints, warm: bool):
        self.est, self.rows, self.config, self.sizes = est, rows, config, sizes
        self.stages, self.hidden, self.levels = stages, hidden, levels
        self.checkpoints, self.warm = checkpoints, warm
        self.dtype = numpy_dtype(rows.X.dtype)

    def _begin(self):
        """``(first stage, done, resume)``: the finished layers ``done`` (``(W, b)`` in the
        network's order) and what the first stage resumes from (None: its start)."""
        est, dtype = self.est, self.dtype
        if self.warm:
            est._check_warm_start(self.hidden, self.rows.y_info)
            est.__dict__.update(self.rows.y_info)
            est.__dict__.setdefault("stage_profile_", {})
            if est.early_stopping:
                est.__dict__.setdefault("validation_scores_", {})
                est.__dict__.setdefault("best_validation_score_", {})
            return len(self.stages) - 1, list(zip(est.coefs_, est.intercepts_)), None
        est._reset_history()
        for stale in ("pretrained_coefs_", "pretrained_intercepts_"):
            est.__dict__.pop(stale, None)
        restored = est._restore(self.checkpoints, self.config.report, self.stages)
        if restored is None:
            return 0, [], None
        start, done, history, resume, pretrained = restored
        if pretrained:
            est.pretrained_coefs_ = [W.astype(dtype) for W, _ in pretrained]
            est.pretrained_intercepts_ = [b.astype(dtype) for _, b in pretrained]
        est.stage_costs_, est.n_iter_ = history["stage_costs"], history["n_iter"]
        est.loss_curve_, est.stage_seconds_ = history["loss_curve"], history["stage_seconds"]
        return start, [(W.astype(dtype), b.astype(dtype)) for W, b in done], resume

    def execute(self) -> list:
        """Run the stages from where the run stands; the network's ``(W, b)`` layers."""
        est, rows, config, checkpoints, n_pretrain = (
            self.est,
            self.rows,
            self.config,
            self.checkpoints,
            len(self.hidden),
        )
        start, done, resume = self._begin()
        validation = rows.validation
        features = _Features(
            rows.pretrain_X, None if validation is None else validation[0], config.activation,
            rows.X if rows.semi else None,
        )  # fmt: skip
        for index in range(start, len(self.stages)):
            stage = self.stages[index]
            history = est._history()
            # what every stage function takes besides its own arguments
            resumable = {"resume": resume, "sample_weight": rows.pretrain_w if index < n_pretrain else rows.supervised}
            if checkpoints is not None:
                resumable["checkpoint"] = checkpoints.during(index, done, history)
            resume = None
            if stage == "finetune":
                result, monitor = finetune(
                    config, rows.X, rows.targets, done, self.sizes, est._head(), rng=rows.rng, stage=stage,
                    validation=validation, **resumable,
                )  # fmt: skip
                warn_not_converged(result, stage, "finetune_max_iter", est.finetune_max_iter)
                weights, biases = unpack(np.asarray(host(result.theta), dtype=self.dtype), self.sizes)
                if not self.warm:
                    est.pretrained_coefs_ = [W.copy() for W, _ in done]
                    est.pretrained_intercepts_ = [b.copy() for _, b in done]
                done = [(W.copy(), b.copy()) for W, b in zip(weights, biases)]
            elif index < n_pretrain:
                result, monitor = est._pretrain(
                    config, features, index, self.hidden, done, rows.rng, self.levels, resumable, self.dtype
                )
            else:
                result, monitor = est._train_output(
                    config, features, index, rows.targets, rows.n_outputs, done, rows.rng, validation, resumable,
                    self.dtype,
                )  # fmt: skip
            est._record(stage, result, monitor)
            if result.interrupted:  # Ctrl-C ends the run, not only this stage
                est._stop(stage, index, n_pretrain, done, self.warm, checkpoints)
                break
            if checkpoints is not None:
                pretrained = (
                    zip(est.pretrained_coefs_, est.pretrained_intercepts_)
                    if stage == "finetune" and not self.warm
                    else ()
                )
                checkpoints.stage_done(index + 1, done, history, pretrained)
        return done
