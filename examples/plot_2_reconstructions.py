"""
A deep autoencoder: reconstructions
===================================

:class:`~stackae.StackedAutoencoder` pretrains a stack of autoencoders greedily, then
unrolls it into one deep autoencoder (encoders, then the decoders in reverse) and
fine-tunes the whole of it on the reconstruction (Hinton and Salakhutdinov, 2006).
Here 64-32-16 on the digits: test images, their reconstructions by the pretrained
stack, and after fine-tuning; and the same number of PCA components for comparison.
"""

import warnings

import matplotlib.pyplot as plt
import numpy as np
from sklearn.decomposition import PCA
from sklearn.exceptions import ConvergenceWarning

from stackae import StackedAutoencoder
from stackae.datasets import load_digits_split

# the stages end at their iteration budgets, as these short examples mean them to
warnings.simplefilter("ignore", ConvergenceWarning)

data = load_digits_split()
ae = StackedAutoencoder(
    (32, 16),
    alpha=1e-4,
    sparsity_weight=0.0,
    output_activation="linear",
    random_state=0,
)
ae.fit(data.X_train)
pca = PCA(16).fit(data.X_train)

X = data.X_test
rows = {
    "test images": X,
    "pretrained only": ae.reconstruct(X, pretrained=True),
    "fine-tuned": ae.reconstruct(X),
    "PCA, 16 components": pca.inverse_transform(pca.transform(X)),
}
for name, R in list(rows.items())[1:]:
    print(
        f"{name:>20}: squared error per image {np.mean(np.sum((R - X) ** 2, axis=1)):.3f}"
    )

# %%
# Ten test images, and their reconstructions from 16 numbers each.

fig, axes = plt.subplots(len(rows), 10, figsize=(10, 4.4))
for r, (name, R) in enumerate(rows.items()):
    for c in range(10):
        axes[r, c].imshow(R[c].reshape(8, 8), cmap="gray_r", vmin=0, vmax=1)
        axes[r, c].axis("off")
    axes[r, 0].set_title(name, loc="left", fontsize=9)
fig.tight_layout()
plt.show()
