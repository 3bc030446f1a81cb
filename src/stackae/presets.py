"""Named recipes: a ``StackedAutoencoderClassifier`` set up as a documented whole.

>>> from stackae import StackedAutoencoderClassifier
>>> clf = StackedAutoencoderClassifier.from_preset("fast", random_state=0)

On the command line: ``stackae train --preset fast``; ``stackae presets`` lists them.
Any parameter given beside a preset overrides it. Each recipe was chosen for MNIST-like
data (784 pixel inputs scaled to [0, 1], 10 classes); the README's table gives what
each reached on MNIST, how long it took, and what the same network reaches without
pretraining.
"""

from __future__ import annotations

__all__ = ["PRESETS", "DESCRIPTIONS", "preset_params"]

# Data only: the estimators read these recipes (``from_preset``); nothing here imports
# an estimator.

#: UFLDL's exercise: 784-200-200-10, sparse sigmoid autoencoders, L-BFGS 400 iterations
#: a stage (these are the estimator's own defaults, spelled out).
UFLDL = dict(
    hidden_layer_sizes=(200, 200),
    alpha=3e-3,
    sparsity_target=0.1,
    sparsity_weight=3.0,
    softmax_alpha=1e-4,
    pretrain_max_iter=400,
    softmax_max_iter=400,
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
    softmax_max_iter=3,
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
    softmax_alpha=0.0,
    pretrain_max_iter=20,
    softmax_max_iter=1,
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

PRESETS = {"ufldl": UFLDL, "fast": FAST, "best": BEST}

DESCRIPTIONS = {
    "ufldl": "UFLDL's exercise: 784-200-200-10 sparse sigmoid autoencoders, L-BFGS, 400 iterations a stage",
    "fast": "the same network by Adam (learning rate 3e-3, batches of 256): 3 epochs a stage, 20 of fine-tuning",
    "best": "1024-1024 ReLU, tied denoising pretraining (masking 0.2/0.3, 20 epochs a layer), fine-tuning with "
    "dropout (0.2, 0.5, 0.5) and max-norm 3 by SGD with Nesterov momentum (0.1, decaying linearly), 280 epochs",
}


def preset_params(name: str) -> dict:
    """The parameters a preset sets (a copy)."""
    if name not in PRESETS:
        raise ValueError(f"Unknown preset {name!r}; the presets are {', '.join(map(repr, PRESETS))}.")
    return dict(PRESETS[name])
