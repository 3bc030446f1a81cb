"""
Codes of a 2-D autoencoder
==========================

A deep autoencoder whose middle layer has two units gives every image a point in the
plane. Trained on the digits without their labels (64-32-2, fine-tuned unrolled), its
codes gather the digits by class better than the first two principal components do.
"""

import warnings

import matplotlib.pyplot as plt
from sklearn.decomposition import PCA
from sklearn.exceptions import ConvergenceWarning

from stackae import StackedAutoencoder
from stackae.datasets import load_digits_split

# the stages end at their iteration budgets, as these short examples mean them to
warnings.simplefilter("ignore", ConvergenceWarning)

data = load_digits_split()
ae = StackedAutoencoder(
    (32, 2), alpha=1e-4, sparsity_weight=0.0, solver="adam", learning_rate=3e-3, batch_size=64,
    pretrain_max_iter=50, finetune_max_iter=300, random_state=0,
)  # fmt: skip
codes = ae.fit(data.X_train).transform(data.X_test)  # the code layer's activations
pcs = PCA(2).fit(data.X_train).transform(data.X_test)
print(
    f"codes: {codes.shape}; reconstruction error {ae.reconstruction_error(data.X_test).mean():.3f}"
)

# %%
# Each test image as a point, coloured by its digit (which the autoencoder never saw).

fig, axes = plt.subplots(1, 2, figsize=(10, 4.5))
for ax, Z, title in [
    (axes[0], codes, "StackedAutoencoder 64-32-2"),
    (axes[1], pcs, "PCA, 2 components"),
]:
    points = ax.scatter(Z[:, 0], Z[:, 1], c=data.y_test, cmap="tab10", s=8)
    ax.set_title(title)
fig.colorbar(points, ax=axes, label="digit")
plt.show()
