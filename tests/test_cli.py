"""The command line, run as a user runs it."""

from __future__ import annotations

import re
import subprocess
import sys

from conftest import make_mnist_folder
from stackae.cli import main


def run_cli(*args, check=True):
    proc = subprocess.run([sys.executable, "-m", "stackae.cli", *args], capture_output=True, text=True, timeout=300)
    if check:
        assert proc.returncode == 0, proc.stderr
    return proc


def _accuracies(text):
    before = float(re.search(r"test accuracy before fine-tuning: ([\d.]+)%", text).group(1))
    after = float(re.search(r"test accuracy after fine-tuning:  ([\d.]+)%", text).group(1))
    return before, after


def test_train_on_embedded_digits_prints_accuracy_before_and_after():
    proc = run_cli("train", "--random-state", "0")
    before, after = _accuracies(proc.stdout)
    assert after >= 97.0 and after > before
    assert "pretrain layer 1" in proc.stderr and "finetune" in proc.stderr  # progress lines
    assert "hidden_layer_sizes=(64, 32)" in proc.stdout


def test_train_on_mnist_format_folder(tmp_path, capsys):
    folder = make_mnist_folder(tmp_path / "m")
    code = main(
        [
            "train",
            "--data",
            str(folder),
            "--hidden",
            "8",
            "--pretrain-max-iter",
            "20",
            "--quiet",
            "--softmax-max-iter",
            "20",
            "--finetune-max-iter",
            "20",
            "--random-state",
            "0",
        ]
    )
    out = capsys.readouterr()
    assert code == 0
    before, after = _accuracies(out.out)
    assert after == 100.0
    assert out.err == ""


def test_gradcheck_command():
    proc = run_cli("gradcheck")
    assert proc.stdout.count("relative difference") == 5
    assert proc.stdout.splitlines()[-1].startswith("OK: largest relative difference")


def test_missing_data_folder_is_one_line_error(tmp_path):
    proc = run_cli("train", "--data", str(tmp_path / "nowhere"), check=False)
    assert proc.returncode == 1
    assert proc.stderr == f"Error: No such folder: '{tmp_path / 'nowhere'}'.\n"
    assert "Traceback" not in proc.stderr


def test_bad_hyperparameter_is_one_line_error():
    proc = run_cli("train", "--sparsity-target", "1.5", check=False)
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines() == ["Error: 'sparsity_target' must be a number in (0.0, 1.0), got 1.5."]
