"""Named recipes: a ``StackedAutoencoderClassifier`` or a ``LadderNetworkClassifier``
set up as a documented whole (:data:`PRESET_ESTIMATORS` says which).

>>> from stackae import StackedAutoencoderClassifier
>>> clf = StackedAutoencoderClassifier.from_preset("fast", random_state=0)

On the command line: ``stackae train --preset fast``; ``stackae presets`` lists them.
Any parameter given beside a preset overrides it. Each recipe was chosen for MNIST-like
data (784 pixel inputs scaled to [0, 1], 10 classes); the README's table gives what
each reached on MNIST, how long it took, and what the same network reaches without
pretraining.
"""

from __future__ import annotations

__all__ = ["PRESETS", "PRESET_ESTIMATORS", "DESCRIPTIONS", "preset_params"]

# Data only: the estimators read these recipes (``from_preset``); nothing here imports
# an estimator.

#: UFLDL's exercise: 784-200-200-10, sparse sigmoid autoencoders, L-BFGS 400 iterations
#: a stage (these are the estimator's own defaults, spelled out).
UFLDL = dict(
    hidden_layer_sizes=(200, 200),
    alpha=3e-3,
    sparsity_target=0.1,
    sparsity_weight=3.0,
    output_alpha=1e-4,
    pretrain_max_iter=400,
    output_max_iter=400,
    finetune_max_iter=400,
    solver="lbfgs",
)

#: The first release's fast recipe: the same network, Adam, 3 + 3 + 3 + 20 epochs.
FAST = dict(
    UFLDL,
    solver="adam",
    learning_rate=3e-3,
    batch_size=256,
    pretrain_max_iter=3,
    output_max_iter=3,
    finetune_max_iter=20,
)

#: The best stacked-autoencoder recipe found for permutation-invariant MNIST. Its
#: hyperparameters were chosen on a 50,000 / 10,000 split of the training images, never
#: on the test set (random_state 0, 300 epochs of fine-tuning): fine-tuning at learning
#: rate 0.1 beat 0.5 (98.42% against 87.4% validation accuracy after 30 epochs), and
#: pretraining each layer for 20 epochs beat 5 (best validation accuracy 98.74% at
#: epoch 256 against 98.69% at epoch 269; 98.64% and 98.63% at the end). The preset then
#: trains on all the training images for 280 epochs, which fits an hour on 2 cores.
#: Wide ReLU layers are pretrained as tied denoising autoencoders (masking noise 0.2,
#: then 0.3; linear reconstruction), then fine-tuned with dropout on the input and the
#: hidden layers, a max-norm constraint and SGD with Nesterov momentum whose step
#: decays linearly to 0.
BEST = dict(
    hidden_layer_sizes=(1024, 1024),
    activation="relu",
    output_activation="linear",
    reconstruction_loss="squared",
    tied_weights=True,
    noise="masking",
    noise_level=(0.2, 0.3),
    alpha=0.0,
    sparsity_weight=0.0,
    output_alpha=0.0,
    pretrain_max_iter=20,
    output_max_iter=1,
    finetune_max_iter=280,
    dropout=(0.2, 0.5, 0.5),
    max_norm=3.0,
    solver="sgd",
    batch_size=128,
    learning_rate=0.01,
    finetune_learning_rate=0.1,
    momentum=0.9,
    nesterovs_momentum=True,
    learning_rate_schedule="linear",
)

#: The Ladder network of Rasmus et al. (2015) as the paper trains it on MNIST:
#: 784-1000-500-250-250-250-10, Gaussian noise 0.3 at every layer, Adam at 0.002 with
#: batches of 100 labeled and 100 unlabeled rows, 150 epochs, the rate decaying
#: linearly to 0 over the last 50. These are the estimator's defaults; the presets
#: differ in the denoising weights, the paper's for each number of labels (for 1000
#: labels the same as for 100, which the paper's tables support: its 100- and
#: 1000-label runs share them).
LADDER_FEW = dict(
    hidden_layer_sizes=(1000, 500, 250, 250, 250),
    denoising_weights=(1000.0, 10.0, 0.1, 0.1, 0.1, 0.1, 0.1),
    noise_std=0.3,
    max_iter=150,
    batch_size=100,
    learning_rate=0.002,
    decay_start=2 / 3,
)
LADDER_ALL = dict(LADDER_FEW, denoising_weights=(1000.0, 1.0, 0.01, 0.01, 0.01, 0.01, 0.01))

PRESETS = {
    "ufldl": UFLDL,
    "fast": FAST,
    "best": BEST,
    "ladder": LADDER_ALL,
    "ladder-1000": LADDER_FEW,
    "ladder-100": LADDER_FEW,
}

#: The estimator each preset sets up (by class name: this module imports none).
PRESET_ESTIMATORS = {
    "ufldl": "StackedAutoencoderClassifier",
    "fast": "StackedAutoencoderClassifier",
    "best": "StackedAutoencoderClassifier",
    "ladder": "LadderNetworkClassifier",
    "ladder-1000": "LadderNetworkClassifier",
    "ladder-100": "LadderNetworkClassifier",
}

DESCRIPTIONS = {
    "ufldl": "UFLDL's exercise: 784-200-200-10 sparse sigmoid autoencoders, L-BFGS, 400 iterations a stage",
    "fast": "the same network by Adam (learning rate 3e-3, batches of 256): 3 epochs a stage, 20 of fine-tuning",
    "best": "1024-1024 ReLU, tied denoising pretraining (masking 0.2/0.3, 20 epochs a layer), fine-tuning with "
    "dropout (0.2, 0.5, 0.5) and max-norm 3 by SGD with Nesterov momentum (0.1, decaying linearly), 280 epochs: "
    "the best greedily pretrained stack (the best model overall is the Ladder network's)",
    "ladder": "the Ladder network (LadderNetworkClassifier), 784-1000-500-250-250-250-10, the paper's settings for "
    "all labels (denoising weights 1000, 1, 0.01, ...)",
    "ladder-1000": "the Ladder network with the paper's settings for few labels (denoising weights 1000, 10, 0.1, "
    "...); train with --labels-per-class 100",
    "ladder-100": "the same settings as ladder-1000, for 100 labels: train with --labels-per-class 10",
}


def preset_params(name: str) -> dict:
    """The parameters a preset sets (a copy)."""
    if name not in PRESETS:
        raise ValueError(f"Unknown preset {name!r}; the presets are {', '.join(map(repr, PRESETS))}.")
    return dict(PRESETS[name])
