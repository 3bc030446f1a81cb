"""Checkpoint folders: numbered ``.npz`` files written atomically, newest valid one wins.

A checkpoint is one ``.npz`` (see :mod:`stackae._safenpz` for how it is read back)
holding named arrays and a JSON record. Files are ``checkpoint-000001.npz``,
``checkpoint-000002.npz``, ...; the last ``keep`` are kept. Reading walks from the
newest down and skips any file that is truncated or corrupt, so a crash during a
write (or a damaged disk block) costs at most one interval of work.
"""

from __future__ import annotations

import json
import re
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from . import _xp
from ._files import atomic_write
from ._safenpz import read_npz
from ._version import __version__
from .exceptions import ModelFileError

__all__ = ["CheckpointDir", "rng_state_arrays", "restore_rng", "run_folders", "holds_checkpoints"]

#: Checkpoint files kept in a folder (older ones are deleted).
KEEP = 3
FORMAT_NAME = "stackae-checkpoint"
FORMAT_VERSION = 1
_PATTERN = re.compile(r"^checkpoint-(\d{6})\.npz$")
#: A training's checkpoints live in ``<checkpoint_dir>/run-<its fingerprint>``: the runs
#: of one folder (a grid search's fits, side by side) never meet.
RUN_PREFIX = "run-"


def run_folders(folder) -> list[Path]:
    """The run folders inside a checkpoint folder, by name."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.is_dir() and p.name.startswith(RUN_PREFIX))


def holds_checkpoints(folder) -> bool:
    """Whether ``folder`` holds checkpoints: in its run folders, or (written by stackae
    0.2) at its top."""
    return bool(CheckpointDir(folder).files()) or any(CheckpointDir(run).files() for run in run_folders(folder))


def rng_state_arrays(rng) -> dict[str, np.ndarray]:
    """The state of a ``RandomState`` as plain arrays."""
    name, keys, pos, has_gauss, cached = rng.get_state()
    return {
        "rng_keys": np.asarray(keys, dtype=np.uint32),
        "rng_rest": np.array([pos, has_gauss, cached], dtype=np.float64),
    }


def restore_rng(rng, arrays: dict) -> None:
    pos, has_gauss, cached = arrays["rng_rest"]
    rng.set_state(("MT19937", arrays["rng_keys"], int(pos), int(has_gauss), float(cached)))


class CheckpointDir:
    """A folder of numbered checkpoints."""

    def __init__(self, path, keep: int | None = None):
        self.path = Path(path)
        self.keep = KEEP if keep is None else keep

    def files(self) -> list[Path]:
        """Checkpoint files, oldest first."""
        if not self.path.is_dir():
            return []
        return sorted(p for p in self.path.iterdir() if _PATTERN.match(p.name))

    def save(self, arrays: dict[str, np.ndarray], record: dict) -> Path:
        self.path.mkdir(parents=True, exist_ok=True)
        existing = self.files()
        last = _PATTERN.match(existing[-1].name) if existing else None
        number = int(last.group(1)) + 1 if last is not None else 1
        target = self.path / f"checkpoint-{number:06d}.npz"
        full = {**record, "format": FORMAT_NAME, "format_version": FORMAT_VERSION, "stackae_version": __version__}
        payload = {**arrays, "record": np.array(json.dumps(full))}
        atomic_write(target, lambda fh: np.savez(fh, **payload))  # type: ignore[arg-type]  # NumPy's stub
        for old in self.files()[: -self.keep]:
            old.unlink(missing_ok=True)
        return target

    def latest(self):
        """``(arrays, record, path)`` of the newest readable checkpoint, or None.

        Unreadable newer files are skipped with a warning naming them.
        """
        for path in reversed(self.files()):
            try:
                arrays = read_npz(path, lambda why, p=path: ModelFileError(f"'{p}': {why}."))
                record = json.loads(str(arrays.pop("record")))
                if record.get("format") != FORMAT_NAME or record.get("format_version", 0) > FORMAT_VERSION:
                    raise ModelFileError(f"'{path}' is not a checkpoint this stackae can read.")
            except (ModelFileError, KeyError, ValueError) as exc:
                warnings.warn(f"Skipping unreadable checkpoint: {exc}", stacklevel=2)
                continue
            return arrays, record, path
        return None


#: Rows hashed to identify data that is not a NumPy array in memory (a file, a GPU
#: array, a Dask array): evenly spaced, so reading them stays cheap.
FINGERPRINT_ROWS = 4096


def fingerprint(X, y: np.ndarray | None, params: dict) -> str:
    """Identifies a training run: the data, the labels and the hyperparameters.

    A NumPy array in memory is hashed whole; other data (memory maps, Zarr, GPU and
    Dask arrays) by its shape, dtype and :data:`FINGERPRINT_ROWS` evenly spaced rows.
    """
    import hashlib

    digest = hashlib.blake2b(digest_size=16)
    digest.update(json.dumps(params, sort_keys=True, default=str).encode())
    digest.update(str((tuple(X.shape), str(X.dtype))).encode())
    if _xp.is_numpy(X) and not isinstance(X, np.memmap):
        digest.update(np.ascontiguousarray(X).data)
    else:
        step = max(1, X.shape[0] // FINGERPRINT_ROWS)
        rows = np.arange(0, X.shape[0], step)
        sample = X[rows] if not _xp.is_zarr(X) else X.get_orthogonal_selection((rows, slice(None)))
        if _xp.is_sparse(sample):
            sample = sample.toarray()
        digest.update(np.ascontiguousarray(_xp.to_numpy(sample)).data)
    if y is not None:  # an unsupervised run has no labels
        digest.update(np.ascontiguousarray(_xp.to_numpy(y)).data)
    return digest.hexdigest()


class FolderLock:
    """An exclusive claim on a checkpoint folder for one training: a ``lock`` file made
    with ``O_EXCL``, holding the owner's process id and host. A lock left by a process
    of this host that no longer runs (a killed training) is recognised as stale and
    taken over; a live one is refused with a message naming its owner."""

    NAME = "lock"

    def __init__(self, folder):
        self.path = Path(folder) / self.NAME
        self.held = False

    def acquire(self) -> None:
        import os
        import socket

        self.path.parent.mkdir(parents=True, exist_ok=True)
        me: dict[str, Any] = {"pid": os.getpid(), "host": socket.gethostname()}
        for _ in range(2):
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                owner = self._owner()
                if owner is not None and not self._stale(owner, me["host"]):
                    raise ValueError(
                        f"'{self.path.parent}' is in use by another training (process {owner.get('pid')} on "
                        f"{owner.get('host')}); wait for it to end, or give another folder."
                    ) from None
                self.path.unlink(missing_ok=True)  # stale, or unreadable: a killed run's
                continue
            with os.fdopen(fd, "w") as fh:
                json.dump(me, fh)
            self.held = True
            return
        raise ValueError(f"'{self.path.parent}' could not be locked for training; try again.")

    def _owner(self):
        try:
            owner = json.loads(self.path.read_text())
        except (OSError, ValueError):
            return None
        return owner if isinstance(owner, dict) else None

    @staticmethod
    def _stale(owner: dict, host: str) -> bool:
        import os

        pid = owner.get("pid")
        if owner.get("host") != host or not isinstance(pid, int):
            return False  # another machine's (a shared folder): its owner may be alive
        if pid == os.getpid():
            return False  # this process holds it (a training inside a training)
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        except PermissionError:
            return False  # alive, another user's
        return False

    def release(self) -> None:
        if self.held:
            self.path.unlink(missing_ok=True)
            self.held = False


class StageCheckpoints:
    """What a stacked estimator saves and restores between stages and within one.

    Saved: the layers finished so far (``done_W_i``, ``done_b_i``, in the network's
    order: pretrained layers, then the output layer), the stage in progress with its parameters, optimizer state and
    loss curve, the random generator's state, and the history of finished stages.
    """

    def __init__(self, folder, every: int, run_id: str, rng):
        self.root = Path(folder)
        self.path = self.root / f"{RUN_PREFIX}{run_id[:16]}"  # this run's own folder (see RUN_PREFIX)
        self.folder = CheckpointDir(self.path)
        self.every = every
        self.run_id = run_id
        self.rng = rng
        self.failed = False  # a checkpoint could not be written: no more are tried

    def _save(self, stage_index, done, history, extra_arrays=None, extra_record=None):
        arrays = dict(rng_state_arrays(self.rng))
        for i, (W, b) in enumerate(done):
            arrays[f"done_W_{i}"], arrays[f"done_b_{i}"] = W, b
        arrays.update(extra_arrays or {})
        record = {"run": self.run_id, "stage_index": stage_index, "n_done": len(done), "history": history}
        record.update(extra_record or {})
        if self.failed:
            return
        try:
            self.folder.save(arrays, record)
        except OSError as exc:  # a side output: it never costs the training or its model
            self.failed = True
            warnings.warn(
                f"Checkpoints could not be written to '{self.path}' ({exc.strerror or exc}); training goes on "
                "without them (the last one written, if any, is whole).",
                RuntimeWarning,
                stacklevel=4,
            )

    def stage_done(self, next_index: int, done, history, pretrained=()) -> None:
        """At the end of a stage: the next one starts from scratch on resume.
        ``pretrained``: after fine-tuning, the network as it was before it."""
        extra = {}
        for i, (W, b) in enumerate(pretrained):
            extra[f"pretrained_W_{i}"], extra[f"pretrained_b_{i}"] = W, b
        self._save(next_index, done, history, extra)

    def during(self, stage_index: int, done, history):
        """A callback for the optimizer of the stage in progress."""

        def save(state: dict) -> None:

            arrays = {"theta": _xp.to_numpy(state["theta"])}
            optimizer = state.get("optimizer") or {}
            scalars = {}
            for key, value in optimizer.items():
                if isinstance(value, np.ndarray) or _xp.is_array(value):
                    arrays[f"opt_{key}"] = _xp.to_numpy(value)
                else:
                    scalars[key] = value
            extra = {"iteration": int(state["iteration"]), "loss_curve": list(map(float, state["loss_curve"]))}
            extra["optimizer_scalars"] = scalars
            self._save(stage_index, done, history, arrays, {"partial": extra})

        return save

    def restore(self):
        """``(stage_index, done, history, resume, pretrained)`` from the newest valid
        checkpoint of this run, or None when the folder holds none.

        ``resume`` is None or the state to hand the optimizer (with ``"rng"``);
        ``pretrained`` holds the network before fine-tuning once fine-tuning is done.
        """
        found = self.folder.latest()
        if found is None:  # stackae 0.2 wrote a run's checkpoints at the folder's top
            found = CheckpointDir(self.root).latest()
            if found is not None and found[1].get("run") != self.run_id:
                found = None  # another run's: it stays where it is
        if found is None:
            return None
        arrays, record, path = found
        if record.get("run") != self.run_id:
            raise ValueError(
                f"'{self.folder.path}' holds checkpoints of a different run (other data or hyperparameters), "
                f"e.g. '{path.name}'. Use an empty folder, or delete them to start over."
            )
        done = [(arrays[f"done_W_{i}"], arrays[f"done_b_{i}"]) for i in range(record["n_done"])]
        pretrained = [
            (arrays[f"pretrained_W_{i}"], arrays[f"pretrained_b_{i}"])
            for i in range(len(done))
            if f"pretrained_W_{i}" in arrays
        ]
        rng = {k: arrays[k] for k in ("rng_keys", "rng_rest")}
        partial = record.get("partial")
        if partial is None:
            restore_rng(self.rng, rng)
            return record["stage_index"], done, record["history"], None, pretrained
        optimizer = {k[4:]: v for k, v in arrays.items() if k.startswith("opt_")}
        optimizer.update(partial.get("optimizer_scalars", {}))
        resume = {
            "theta": arrays["theta"],
            "iteration": partial["iteration"],
            "loss_curve": partial["loss_curve"],
            "optimizer": optimizer,
            "rng": rng,
        }
        return record["stage_index"], done, record["history"], resume, pretrained
