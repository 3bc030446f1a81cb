"""
Learning from unlabeled rows
============================

Keep the labels of 3 digits of each class (30 labels) and mark the other 1,227
training rows -1. The
:class:`~stackae.LadderNetworkClassifier` learns from every row: its denoising costs
need no label (the denoising weights are those of the ``ladder-100`` preset). The same
network with the denoising weights at 0 is the supervised baseline: batch
normalisation and noise, no decoder, so it learns from the 30 labeled rows alone.
"""

import warnings

import matplotlib.pyplot as plt
import numpy as np
from sklearn.exceptions import ConvergenceWarning

from stackae import LadderNetworkClassifier
from stackae.datasets import load_digits_split

# the stages end at their iteration budgets, as these short examples mean them to
warnings.simplefilter("ignore", ConvergenceWarning)

data = load_digits_split(dtype="float32")
rng = np.random.RandomState(0)
keep = np.concatenate(
    [rng.choice(np.flatnonzero(data.y_train == c), 3, replace=False) for c in range(10)]
)
y = np.full_like(data.y_train, -1)
y[keep] = data.y_train[keep]

settings = dict(
    hidden_layer_sizes=(100, 50), batch_size=50, max_iter=60, random_state=0
)
models = {
    "Ladder network": LadderNetworkClassifier(
        **settings, denoising_weights=(1000, 10, 0.1, 0.1)
    ),
    "supervised baseline": LadderNetworkClassifier(
        **settings, denoising_weights=(0, 0, 0, 0)
    ),
}
accuracy = {}
for name, model in models.items():
    model.fit(data.X_train, y)
    accuracy[name] = model.score(data.X_test, data.y_test)
    print(f"{name}: test accuracy {accuracy[name]:.2%} with {keep.size} labels")

# %%
# The two networks side by side: the same architecture, noise and steps.

fig, ax = plt.subplots(figsize=(6, 3))
ax.barh(list(accuracy), list(accuracy.values()), color=["tab:blue", "tab:gray"])
for i, value in enumerate(accuracy.values()):
    ax.text(value - 0.01, i, f"{value:.1%}", ha="right", va="center", color="white")
ax.set_xlim(0, 1)
ax.set_xlabel(f"test accuracy, {keep.size} labels")
fig.tight_layout()
plt.show()
