"""Checkpoints: resuming gives the uninterrupted result, corrupt files are skipped,
a killed command-line run continues with --resume."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning

from stackae import StackedAutoencoderClassifier
from stackae import _checkpoint as checkpoint_module
from stackae._checkpoint import CheckpointDir, run_folders
from stackae.datasets import load_digits_split
from stackae.io import load_model

ADAM = dict(
    hidden_layer_sizes=(32, 16),
    alpha=1e-4,
    solver="adam",
    learning_rate=1e-2,
    batch_size=64,
    pretrain_max_iter=4,
    output_max_iter=4,
    finetune_max_iter=6,
    random_state=0,
    checkpoint_every=2,
)


@pytest.fixture(scope="module")
def digits():
    return load_digits_split(dtype=np.float32)


def _fit(params, data, **extra):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return StackedAutoencoderClassifier(**params, **extra).fit(data.X_train, data.y_train)


def _run_files(folder):
    """The checkpoint files of the one run in ``folder`` (its ``run-*`` folder)."""
    (run,) = run_folders(folder)
    return CheckpointDir(run).files()


def _same_network(a, b):
    for Wa, Wb in zip(a.coefs_ + a.intercepts_, b.coefs_ + b.intercepts_):
        np.testing.assert_array_equal(Wa, Wb)


def test_resuming_from_every_checkpoint_gives_the_uninterrupted_result(tmp_path, digits, monkeypatch):
    reference = _fit(ADAM, digits)
    folder = tmp_path / "ckpt"
    _fit(ADAM, digits, checkpoint_dir=folder)
    assert len(_run_files(folder)) == 3  # the folder keeps the newest three
    # A run that keeps them all, then a resume from each prefix of them: as if the
    # process had died right after each checkpoint.
    monkeypatch.setattr(checkpoint_module, "KEEP", 1000)
    full = tmp_path / "full"
    _fit(ADAM, digits, checkpoint_dir=full)
    files = _run_files(full)
    assert len(files) > 8  # mid-stage and end-of-stage checkpoints of all four stages
    for k in [*range(1, len(files), 2), len(files)]:
        trial = tmp_path / f"trial{k}"
        trial.mkdir()
        for f in files[:k]:
            (trial / f.name).write_bytes(f.read_bytes())
        resumed = _fit(ADAM, digits, checkpoint_dir=trial)
        _same_network(resumed, reference)
        assert resumed.loss_curve_ == reference.loss_curve_
        np.testing.assert_array_equal(
            resumed.predict_proba(digits.X_test, pretrained=True),
            reference.predict_proba(digits.X_test, pretrained=True),
        )
    assert k == len(files)  # the last trial resumed a finished run


def test_a_corrupt_newest_checkpoint_is_skipped(tmp_path, digits):
    reference = _fit(ADAM, digits)
    folder = tmp_path / "ckpt"
    _fit(ADAM, digits, checkpoint_dir=folder)
    files = _run_files(folder)
    files[-1].write_bytes(files[-1].read_bytes()[:100])  # a write cut short
    with pytest.warns(
        UserWarning, match=r"^Skipping unreadable checkpoint: '.*checkpoint-\d+\.npz': it is not an \.npz archive"
    ):
        resumed = StackedAutoencoderClassifier(**ADAM, checkpoint_dir=folder).fit(digits.X_train, digits.y_train)
    _same_network(resumed, reference)


def test_the_runs_of_one_folder_are_kept_apart(tmp_path, digits):
    folder = tmp_path / "ckpt"
    first = _fit(ADAM, digits, checkpoint_dir=folder)
    other = _fit({**ADAM, "alpha": 2e-4}, digits, checkpoint_dir=folder)  # another run: its own folder
    assert len(run_folders(folder)) == 2
    again = _fit(ADAM, digits, checkpoint_dir=folder)  # the first run, finished: restored, not retrained
    _same_network(again, first)
    assert not np.array_equal(other.coefs_[0], first.coefs_[0])


def test_a_grid_search_checkpoints_its_parallel_fits_side_by_side(tmp_path, digits):
    from sklearn.model_selection import GridSearchCV

    folder = tmp_path / "grid"
    search = GridSearchCV(
        StackedAutoencoderClassifier(**{**ADAM, "checkpoint_dir": str(folder)}),
        {"alpha": [1e-4, 1e-3]},
        cv=2,
        n_jobs=2,
        error_score="raise",
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        search.fit(digits.X_train, digits.y_train)
    assert len(run_folders(folder)) == 5  # 2 settings x 2 folds, and the refit
    assert search.score(digits.X_test, digits.y_test) >= 0.6  # 14 short epochs (measured 0.685; chance 0.1)


def test_checkpoints_written_at_a_folder_s_top_by_stackae_0_2_are_resumed(tmp_path, digits):
    reference = _fit(ADAM, digits)
    folder = tmp_path / "ckpt"
    _fit(ADAM, digits, checkpoint_dir=folder)
    (run,) = run_folders(folder)
    old = tmp_path / "old"
    old.mkdir()
    files = CheckpointDir(run).files()
    (old / files[0].name).write_bytes(files[0].read_bytes())  # a mid-run checkpoint, where 0.2 kept it
    resumed = _fit(ADAM, digits, checkpoint_dir=old)
    _same_network(resumed, reference)


def test_lbfgs_resume_reaches_the_same_accuracy(tmp_path, digits):
    params = dict(
        hidden_layer_sizes=(32,),
        alpha=1e-4,
        pretrain_max_iter=60,
        output_max_iter=60,
        finetune_max_iter=80,
        random_state=0,
        checkpoint_every=20,
    )
    reference = _fit(params, digits)
    folder = tmp_path / "ckpt"
    _fit(params, digits, checkpoint_dir=folder)
    # keep only a checkpoint from the middle of fine-tuning
    files = _run_files(folder)
    for f in files[1:]:
        f.unlink()
    resumed = _fit(params, digits, checkpoint_dir=folder)
    assert resumed.n_iter_["finetune"] == reference.n_iter_["finetune"]
    acc_ref = reference.score(digits.X_test, digits.y_test)
    acc = resumed.score(digits.X_test, digits.y_test)
    assert abs(acc - acc_ref) <= 0.004  # two of the 540 test digits


def _train_cmd(*extra):
    return [
        sys.executable,
        "-m",
        "stackae.cli",
        "train",
        "--quiet",
        "--solver",
        "adam",
        "--learning-rate",
        "0.01",
        "--batch-size",
        "16",
        "--hidden",
        "64",
        "32",
        "--pretrain-max-iter",
        "20",
        "--output-max-iter",
        "10",
        "--finetune-max-iter",
        "150",
        "--random-state",
        "0",
        "--checkpoint-every",
        "1",
        *extra,
    ]


def test_sigkill_then_resume_matches_uninterrupted_run(tmp_path):
    folder = tmp_path / "ckpt"
    proc = subprocess.Popen(
        _train_cmd("--checkpoint", str(folder), "--out", str(tmp_path / "resumed.npz")),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.time() + 120
    # kill it in the middle of fine-tuning, right after a checkpoint landed
    while time.time() < deadline:
        names = [p.name for p in folder.glob("run-*/checkpoint-*.npz")] if folder.exists() else []
        if any(int(n[11:17]) >= 60 for n in names):
            break
        assert proc.poll() is None, "training finished before it could be killed"
        time.sleep(0.005)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not (tmp_path / "resumed.npz").exists()

    resume = subprocess.run(
        [sys.executable, "-m", "stackae.cli", "train", "--resume", str(folder), "--quiet"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert resume.returncode == 0, resume.stderr
    fresh = subprocess.run(
        _train_cmd("--out", str(tmp_path / "fresh.npz")), capture_output=True, text=True, timeout=300
    )
    assert fresh.returncode == 0, fresh.stderr
    _same_network(load_model(tmp_path / "resumed.npz"), load_model(tmp_path / "fresh.npz"))
    assert resume.stdout.splitlines()[-3] == fresh.stdout.splitlines()[-3]  # the same test accuracy line


def test_cli_refuses_to_overwrite_or_resume_nothing(tmp_path):
    folder = tmp_path / "ckpt"
    (folder).mkdir()
    (folder / "checkpoint-000001.npz").write_bytes(b"x")
    proc = subprocess.run(
        [sys.executable, "-m", "stackae.cli", "train", "--checkpoint", str(folder)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 1
    assert proc.stderr == (
        f"Error: '{folder}' already holds checkpoints; continue them with --resume {folder}, "
        "or choose an empty folder.\n"
    )
    proc = subprocess.run(
        [sys.executable, "-m", "stackae.cli", "train", "--resume", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 1
    assert (
        proc.stderr
        == f"Error: '{tmp_path}' holds no stackae run to resume (no run.json); start one with --checkpoint.\n"
    )


def test_a_folder_in_use_is_locked_and_a_stale_lock_is_taken_over(tmp_path):
    import json
    import socket

    from stackae._checkpoint import FolderLock

    first = FolderLock(tmp_path)
    first.acquire()
    assert json.loads((tmp_path / "lock").read_text()) == {"pid": os.getpid(), "host": socket.gethostname()}
    first.release()
    assert not (tmp_path / "lock").exists()
    # a killed training's lock: its process is gone
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    (tmp_path / "lock").write_text(json.dumps({"pid": int(dead.stdout), "host": socket.gethostname()}))
    lock = FolderLock(tmp_path)
    lock.acquire()
    assert json.loads((tmp_path / "lock").read_text())["pid"] == os.getpid()
    lock.release()


def test_two_trainings_on_one_folder_are_refused(tmp_path, digits):
    import json
    import socket

    clf = StackedAutoencoderClassifier((4,), pretrain_max_iter=1, output_max_iter=1, finetune_max_iter=1,
                                       checkpoint_dir=tmp_path)  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(digits.X_train[:60], digits.y_train[:60])
    (run,) = run_folders(tmp_path)  # the run's own folder, where its lock goes
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        (run / "lock").write_text(json.dumps({"pid": sleeper.pid, "host": socket.gethostname()}))
        with pytest.raises(ValueError, match=rf"is in use by another training \(process {sleeper.pid} on "):
            clf.fit(digits.X_train[:60], digits.y_train[:60])
    finally:
        sleeper.kill()
        sleeper.wait()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(digits.X_train[:60], digits.y_train[:60])  # its owner gone: taken over
    assert not (run / "lock").exists()  # and released after the fit
