"""
The first model: pretrain, fine-tune, look at the filters
=========================================================

A 64-64-32-10 stack on the embedded 8x8 digits, as ``stackae train`` trains it: each
hidden layer pretrained as a sparse autoencoder, a softmax on top, then the whole
network fine-tuned by backpropagation. Fine-tuning is what makes the features
discriminative: compare the accuracy before and after, and the first layer's filters.
"""

import warnings

import matplotlib.pyplot as plt
from sklearn.exceptions import ConvergenceWarning

from stackae import StackedAutoencoderClassifier
from stackae.datasets import load_digits_split
from stackae.viz import filter_grid

# the stages end at their iteration budgets, as these short examples mean them to
warnings.simplefilter("ignore", ConvergenceWarning)

data = load_digits_split()  # pixels / 16, a stratified 30% held out
clf = StackedAutoencoderClassifier((64, 32), alpha=1e-4, random_state=0)
clf.fit(data.X_train, data.y_train)

before = (clf.predict(data.X_test, pretrained=True) == data.y_test).mean()
print(
    f"test accuracy before fine-tuning {before:.2%}, after {clf.score(data.X_test, data.y_test):.2%}"
)

# %%
# The first layer's 64 filters: each unit's incoming weights as an 8x8 picture,
# pretrained (left) and after fine-tuning (right).

fig, axes = plt.subplots(1, 2, figsize=(8, 4))
for ax, W, title in [
    (axes[0], clf.pretrained_coefs_[0], "pretrained"),
    (axes[1], clf.coefs_[0], "fine-tuned"),
]:
    ax.imshow(filter_grid(W, (8, 8)), cmap="gray")
    ax.set_title(title)
    ax.axis("off")
fig.tight_layout()

# %%
# The learning curves: the cost after each L-BFGS iteration of every stage.

fig, axes = plt.subplots(1, len(clf.loss_curve_), figsize=(12, 3))
for ax, (stage, curve) in zip(axes, clf.loss_curve_.items()):
    ax.plot(curve)
    ax.set_title(stage)
    ax.set_xlabel("iteration")
    ax.set_yscale("log")
axes[0].set_ylabel("cost")
fig.tight_layout()
plt.show()
