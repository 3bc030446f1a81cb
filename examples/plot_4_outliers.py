"""
Outliers by reconstruction error
================================

:class:`~stackae.StackedAutoencoderOutlierDetector` learns to reconstruct normal rows;
rows it reconstructs badly score low. The one-class protocol on the digits: train on
the 8s only, then score every test image; the AUC says how well the scores tell 8s
from the other digits, against scikit-learn's IsolationForest.

The ranking is good, but ``offset_`` (the threshold of ``predict``) is the
``contamination`` quantile of the *training* rows' scores, and a network reconstructs
the rows it was trained on better than new ones: with 124 training images it flags
many new 8s too. Where the threshold matters, take it from normal rows held out of
the fit.
"""

import warnings

import matplotlib.pyplot as plt
import numpy as np
from sklearn.ensemble import IsolationForest
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import roc_auc_score

from stackae import StackedAutoencoderOutlierDetector
from stackae.datasets import load_digits_split

# the stages end at their iteration budgets, as these short examples mean them to
warnings.simplefilter("ignore", ConvergenceWarning)

data = load_digits_split()
normal = data.X_train[data.y_train == 8]
det = StackedAutoencoderOutlierDetector(
    (32, 8),
    alpha=1e-4,
    sparsity_weight=0.0,
    pretrain_max_iter=50,
    finetune_max_iter=50,
    random_state=0,
).fit(normal)
forest = IsolationForest(random_state=0).fit(normal)

is_normal = data.y_test == 8
scores = det.score_samples(data.X_test)  # higher: more normal
print(f"AUC, stackae {roc_auc_score(is_normal, scores):.4f}")
print(
    f"AUC, IsolationForest {roc_auc_score(is_normal, forest.score_samples(data.X_test)):.4f}"
)
flagged = det.predict(data.X_test) == -1
print(
    f"flagged as outliers: {flagged[~is_normal].mean():.1%} of the other digits,",
    end=" ",
)
print(f"{flagged[is_normal].mean():.1%} of the 8s")

# %%
# The scores of the test images: the 8s, and every other digit.

fig, ax = plt.subplots(figsize=(6, 3.5))
bins = np.linspace(scores.min(), scores.max(), 40)
ax.hist(scores[is_normal], bins, alpha=0.7, label="8s (normal)")
ax.hist(scores[~is_normal], bins, alpha=0.7, label="other digits")
ax.axvline(det.offset_, color="k", ls="--", label="offset_ (contamination 0.1)")
ax.set_xlabel("score_samples: minus the reconstruction error")
ax.legend()
fig.tight_layout()
plt.show()
