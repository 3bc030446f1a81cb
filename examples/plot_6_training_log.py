"""
The training log and callbacks
==============================

``log=`` writes one JSON line per iteration of every stage; ``callbacks=`` gets the
same record and may end the stage by returning True. Here a callback ends each
pretraining stage once an iteration gains less than 0.1% of the cost, and the log is
read back and plotted as ``stackae show LOG --out PNG`` plots it.
"""

import tempfile
import warnings
from pathlib import Path

import matplotlib.pyplot as plt
from sklearn.exceptions import ConvergenceWarning

from stackae import StackedAutoencoderClassifier
from stackae.datasets import load_digits_split
from stackae.log import read_log
from stackae.viz import save_log_curves

# the stages end at their iteration budgets, as these short examples mean them to
warnings.simplefilter("ignore", ConvergenceWarning)

last = {}


def stop_when_flat(record):
    """End a pretraining stage once an iteration lowers the cost by less than 0.1%."""
    previous = last.get(record["stage"])
    last[record["stage"]] = record["cost"]
    flat = previous is not None and previous - record["cost"] < 1e-3 * previous
    return record["stage"].startswith("pretrain") and flat


data = load_digits_split()
log = Path(tempfile.mkdtemp()) / "train.jsonl"
clf = StackedAutoencoderClassifier(
    (64, 32),
    alpha=1e-4,
    early_stopping=True,
    random_state=0,
    log=log,
    callbacks=stop_when_flat,
)
clf.fit(data.X_train, data.y_train)
print("iterations:", clf.n_iter_)
print(log.read_text().splitlines()[0])

# %%
# The log read back, and drawn as ``stackae show run.jsonl --out curves.png`` draws
# it: each stage's cost (blue, left axis) and validation score (orange, right).

records = read_log(log)
picture = log.with_suffix(".png")
save_log_curves(records, picture)
plt.figure(figsize=(12, 3))
plt.imshow(plt.imread(picture))
plt.axis("off")
plt.show()
