"""How close an L-BFGS run resumed from a checkpoint ends to the uninterrupted run.

L-BFGS keeps curvature pairs that a checkpoint does not store, so a resumed run
takes a slightly different path. This trains 784-200-200-10 on the full MNIST
(float32, L-BFGS, --max-iter iterations a stage, checkpoints every --every), then
resumes from the first checkpoint inside fine-tuning and compares test accuracy.

    python benchmarks/resume_lbfgs.py [--mnist DIR] [--max-iter 100] [--every 25]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
from sklearn.exceptions import ConvergenceWarning

from _common import DEFAULT_MNIST, machine_description, print_table
from stackae import StackedAutoencoderClassifier
from stackae import _checkpoint as checkpoint_module
from stackae._checkpoint import CheckpointDir
from stackae.datasets import load_mnist


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mnist", default=DEFAULT_MNIST)
    parser.add_argument("--max-iter", type=int, default=100)
    parser.add_argument("--every", type=int, default=25)
    args = parser.parse_args(argv)
    print(f"machine: {machine_description()}")
    data = load_mnist(args.mnist, dtype=np.float32)
    it = args.max_iter
    params = dict(
        pretrain_max_iter=it, output_max_iter=it, finetune_max_iter=it, random_state=0, checkpoint_every=args.every
    )
    checkpoint_module.KEEP = 10_000  # keep them all, to pick one inside fine-tuning
    rows = []
    with tempfile.TemporaryDirectory() as folder, warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        start = time.perf_counter()
        full = StackedAutoencoderClassifier((200, 200), **params, checkpoint_dir=folder).fit(data.X_train, data.y_train)
        rows.append(
            [
                "uninterrupted",
                "-",
                f"{100 * full.score(data.X_test, data.y_test):.2f}%",
                f"{time.perf_counter() - start:.0f} s",
            ]
        )
        files = CheckpointDir(folder).files()
        finetune = [f for f in files if _stage_of(f) == (3, True)]
        middle = finetune[0]  # the earliest: the longest stretch after the restart
        for f in files[files.index(middle) + 1 :]:
            f.unlink()
        start = time.perf_counter()
        resumed = StackedAutoencoderClassifier((200, 200), **params, checkpoint_dir=folder).fit(
            data.X_train, data.y_train
        )
        rows.append(
            [
                f"resumed from {middle.name}",
                _iteration_of(middle),
                f"{100 * resumed.score(data.X_test, data.y_test):.2f}%",
                f"{time.perf_counter() - start:.0f} s",
            ]
        )
    print_table(["run", "fine-tuning iteration resumed from", "test accuracy", "wall time"], rows)


def _record(path: Path) -> dict:
    from stackae._safenpz import read_npz

    return json.loads(str(read_npz(path, ValueError)["record"]))


def _stage_of(path: Path):
    record = _record(path)
    return record["stage_index"], "partial" in record


def _iteration_of(path: Path) -> str:
    return str(_record(path)["partial"]["iteration"])


if __name__ == "__main__":
    main()
