"""The training log: one record an iteration, to a JSON-lines file and to callbacks.

Every estimator takes ``log`` (a file name) and ``callbacks`` (a callable or a list of
them). After each iteration of every stage (each epoch for the minibatch solvers) the
optimizer makes one record::

    {"stage": "pretrain layer 1", "iteration": 12, "cost": 0.0481,
     "validation": 0.93, "learning_rate": null, "seconds": 3.2}

* ``stage``: the stage's name, as in ``n_iter_`` and ``loss_curve_``;
* ``iteration``: the iteration (epoch) just finished, counted from 1 within the stage
  (a resumed stage goes on with its own count);
* ``cost``: the objective after it (for the minibatch solvers, the epoch's mean
  minibatch cost, as in ``loss_curve_``);
* ``validation``: the validation score after it (``early_stopping=True``: the
  accuracy, R^2 or minus the reconstruction loss, higher is better), else null;
* ``learning_rate``: the step size of the iteration's last step (null for L-BFGS,
  which has none: its line search picks each step);
* ``seconds``: the time since the stage began (in this process: a resumed stage counts
  from its resume).

``log`` writes each record as a line of JSON (flushed at once, so ``tail -f`` follows a
run); a fit starts the file anew, and one that resumes from checkpoints appends to it
(fits side by side, a grid search's, need a file each).
Each callback is called with the record; a callback that returns True ends the stage
as early stopping does (the stage's result is its parameters at that iteration, and
the next stage starts). :func:`read_log` reads a log back; ``stackae show LOG`` plots it.

``log`` and ``callbacks`` say where training reports, not what it learns: a model file
does not keep them, and they are no part of a checkpointed run's identity.
"""

from __future__ import annotations

import contextlib
import json
import os
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import IO

from ._files import atomic_write, check_writable
from .exceptions import DataError

__all__ = ["read_log", "RECORD_FIELDS"]

#: The fields of every record, in the order a log line writes them.
RECORD_FIELDS = ("stage", "iteration", "cost", "validation", "learning_rate", "seconds")

#: The estimator parameters that say where training reports: not saved with a model.
REPORTING_PARAMS = ("log", "callbacks")


class TrainingLog:
    """The records' destination during one fit: the file ``path`` (opened at the first
    record, so a fit that fails before any iteration leaves an earlier log alone) and
    the ``callbacks``. Calling it with a record returns True when a callback asks the
    stage to stop."""

    def __init__(self, path, callbacks: list[Callable]):
        self.path = None if path is None else Path(path)
        self.callbacks = callbacks
        self.append = False  # set by a fit that resumes from checkpoints
        self._file: IO[bytes] | None = None

    def __call__(self, record: dict) -> bool:
        if self.path is not None:
            self._write(json.dumps(record) + "\n")
        stop = False
        for callback in self.callbacks:
            stop = bool(callback(dict(record))) or stop  # each gets its own copy, and every one is called
        return stop

    def resume_at(self, finished, stage, iteration) -> None:
        """Before a resumed run appends: keep the records of the ``finished`` stages and
        those of ``stage`` up to ``iteration`` (the checkpoint it resumes from; None: the
        stage starts over), so that the iterations between that checkpoint and the cut,
        which the run does again, are not in the log twice."""
        if self.path is None or not self.path.is_file():
            return
        finished = set(finished)

        def kept(record) -> bool:
            if record.get("stage") in finished:
                return True
            return record.get("stage") == stage and iteration is not None and record.get("iteration", 0) <= iteration

        lines = []
        for line in self.path.read_text(encoding="utf-8").splitlines(keepends=True):
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                continue  # a line cut short by the interruption
            if isinstance(record, dict) and kept(record):
                lines.append(line if line.endswith("\n") else line + "\n")
        atomic_write(self.path, lambda fh: fh.write("".join(lines).encode("utf-8")))

    def _write(self, line: str) -> None:
        """Append ``line``; a log that cannot be written (a full disk) is a side output:
        its last whole line stays, a warning names the file, and training goes on
        without it."""
        start = None
        try:
            if self._file is None and self.path is not None:
                # unbuffered: a record is one write, and a failed one leaves nothing to flush
                self._file = open(self.path, "ab" if self.append else "wb", buffering=0)
            if self._file is None:
                return
            start = self._file.tell()
            self._file.write(line.encode("utf-8"))
        except OSError as exc:
            self._give_up(exc, start)

    def _give_up(self, exc: OSError, start) -> None:
        path, self.path = self.path, None
        if self._file is not None:
            try:
                if start is not None:
                    self._file.truncate(start)  # no half record at its end
            except OSError:
                pass  # a device, or a file system that cannot: what was written stays
            finally:
                self._file.close()
                self._file = None
        warnings.warn(
            f"The training log '{path}' could not be written ({exc.strerror or exc}); training goes on without it.",
            RuntimeWarning,
            stacklevel=4,
        )

    def close(self) -> None:
        if self._file is not None:  # unbuffered: nothing is left to write
            self._file.close()
            self._file = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def opened(report: TrainingLog | None):
    """A ``with`` block that closes ``report``'s file at its end (nothing for None)."""
    return report if report is not None else contextlib.nullcontext()


def check_callbacks(callbacks) -> list[Callable]:
    """``callbacks`` as a list of callables: None, one callable, or a list or tuple of them."""
    if callbacks is None:
        return []
    items = [callbacks] if callable(callbacks) else callbacks
    if not isinstance(items, list | tuple) or not all(callable(c) for c in items):
        raise TypeError(
            f"'callbacks' must be a callable or a list of callables (each called with every iteration's "
            f"record), got {callbacks!r}."
        )
    return list(items)


def training_log(est) -> TrainingLog | None:
    """The :class:`TrainingLog` of estimator ``est``'s ``log`` and ``callbacks``, checked
    before any work (a log that cannot be written is an error now, not after an hour
    of training); None when it has neither."""

    callbacks = check_callbacks(getattr(est, "callbacks", None))
    path = getattr(est, "log", None)
    if path is not None:
        if not isinstance(path, str | os.PathLike):
            raise TypeError(f"'log' must be a file name (a str or a path) or None, got {path!r}.")
        check_writable(path, "log")
    if path is None and not callbacks:
        return None
    return TrainingLog(path, callbacks)


def read_log(path) -> list[dict]:
    """The records of a training log written by ``log=path`` (or ``--log``), in order.

    Raises
    ------
    stackae.DataError
        When a line is not a record (its line number says which).
    """

    records = []
    with open(path, encoding="utf-8") as fh:
        for number, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise DataError(f"'{path}', line {number}: not a line of JSON ({exc.msg}).") from None
            if not isinstance(record, dict) or not {"stage", "iteration", "cost"} <= record.keys():
                raise DataError(
                    f"'{path}', line {number}: not a training-log record (one with 'stage', 'iteration' and 'cost')."
                )
            for field, kinds, what in (
                ("stage", str, "a string"),
                ("iteration", int, "an integer"),
                ("cost", int | float, "a number"),
                ("validation", int | float | type(None), "a number or null"),
            ):
                value = record.get(field)
                if isinstance(value, bool) or not isinstance(value, kinds):
                    raise DataError(f"'{path}', line {number}: its '{field}' is {value!r}, not {what}.")
            records.append(record)
    if not records:
        raise DataError(f"'{path}' holds no training-log record.")
    return records
