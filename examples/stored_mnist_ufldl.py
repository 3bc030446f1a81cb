"""
The UFLDL exercise on MNIST (stored output)
===========================================

UFLDL's "Fine-tuning Stacked AEs" exercise: 784-200-200-10 on the 60,000 MNIST training
images, each layer a sparse sigmoid autoencoder trained by L-BFGS for 400 iterations,
a softmax on top, then the whole network fine-tuned. It takes about 10 minutes on 2 CPU
cores (6 s on an H200), so this page shows the output stored from a run rather than
running it. Measured 2026-11-28 on an AMD EPYC, 2 cores, float32 (see
:doc:`/results/ufldl`)::

    test accuracy before fine-tuning 92.09%, after 97.94%   (UFLDL reports 87.7% and 97.6%)
    fit wall time 599.6 s

The same from the shell: ``stackae train --data mnist --dtype float32 --preset ufldl
--out mnist.npz``, then ``stackae show mnist.npz --out filters.png`` draws the
first layer's filters and the learning curves of a network trained this way (150
iterations a stage here: 91.3% before fine-tuning, 98.07% after):

.. image:: /_static/mnist-filters.png
   :alt: the first layer's 200 filters, pen strokes

.. image:: /_static/mnist-filters-curves.png
   :alt: the cost of each stage against the iteration
"""

# sphinx_gallery_thumbnail_path = "_static/mnist-filters.png"
from stackae import StackedAutoencoderClassifier
from stackae.datasets import load_mnist

data = load_mnist("mnist", dtype="float32")  # fetched once, checked, cached
clf = StackedAutoencoderClassifier.from_preset("ufldl", random_state=0, verbose=1)
clf.fit(data.X_train, data.y_train)
before = (clf.predict(data.X_test, pretrained=True) == data.y_test).mean()
print(
    f"test accuracy before fine-tuning {before:.2%}, after {clf.score(data.X_test, data.y_test):.2%}"
)
