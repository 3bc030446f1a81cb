"""SIGTERM and SIGHUP end a training as Ctrl-C does: the network as it stands is saved,
the cut is said in one line and recorded in the model file, and the checkpoint folder's
lock is released (kill, timeout, container stops and batch schedulers send SIGTERM)."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time

import pytest

from stackae._checkpoint import FolderLock
from stackae.io import load_model


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP], ids=["SIGTERM", "SIGHUP"])
def test_a_signal_saves_the_model_says_so_and_releases_the_lock(tmp_path, signum):
    out, log, folder = tmp_path / "m.npz", tmp_path / "log.jsonl", tmp_path / "run"
    proc = subprocess.Popen(
        [sys.executable, "-m", "stackae.cli", "train", "--hidden", "16", "--solver", "adam",
         "--pretrain-max-iter", "2", "--output-max-iter", "2", "--finetune-max-iter", "1000000",
         "--out", str(out), "--log", str(log), "--checkpoint", str(folder), "--quiet"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:  # until fine-tuning has run a few epochs
            lines = log.read_text().splitlines() if log.exists() else []
            if sum('"stage": "finetune"' in line for line in lines) >= 3:
                break
            assert proc.poll() is None, proc.communicate()
            time.sleep(0.05)
        proc.send_signal(signum)
        stdout, stderr = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    name = signal.Signals(signum).name
    assert proc.returncode == 0, stderr
    said = f"interrupted: stage 'finetune' was cut short by {name} (--resume {folder} continues it); the model is"
    assert said + " the network as it is" in stdout
    assert f"model saved to {out}" in stdout
    model = load_model(out)
    assert model.metadata_["interrupted_stage"] == "finetune" and model.interrupted_stage_ == "finetune"
    assert not (folder / FolderLock.NAME).exists()
    records = [json.loads(line) for line in log.read_text().splitlines()]
    assert records[-1]["stage"] == "finetune"  # the log's last line is whole
