"""
Export to ONNX and PyTorch
==========================

A fitted model leaves Python's stackae as an ONNX model (through skl2onnx's converters,
which :func:`stackae.export.register_onnx` registers, so a whole Pipeline converts) or
as a ``torch.nn.Module``. Both compute what the model's methods compute; here a
Pipeline of a scaler and a stacked classifier, trained on the digits, is converted and
run by onnxruntime, and its probabilities are set against ``predict_proba``.
"""

import warnings

import matplotlib.pyplot as plt
import numpy as np
import onnxruntime
import skl2onnx
from sklearn.exceptions import ConvergenceWarning
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import MinMaxScaler

import stackae.export
from stackae import StackedAutoencoderClassifier
from stackae.datasets import load_digits_split

# the stages end at their iteration budgets, as these short examples mean them to
warnings.simplefilter("ignore", ConvergenceWarning)

data = load_digits_split(dtype="float32")
pipe = make_pipeline(
    MinMaxScaler(), StackedAutoencoderClassifier((64, 32), alpha=1e-4, random_state=0)
)
pipe.fit(data.X_train, data.y_train)

stackae.export.register_onnx()
onx = skl2onnx.to_onnx(
    pipe, data.X_train[:1], options={id(pipe[-1]): {"zipmap": False}}
)
session = onnxruntime.InferenceSession(onx.SerializeToString())
labels, probabilities = session.run(None, {session.get_inputs()[0].name: data.X_test})
expected = pipe.predict_proba(data.X_test)
print(
    f"ONNX graph: {len(onx.graph.node)} nodes; outputs {[o.name for o in onx.graph.output]}"
)
print(
    f"largest difference from predict_proba: {np.abs(probabilities - expected).max():.2g}"
)
print(f"labels equal predict's: {np.array_equal(labels, pipe.predict(data.X_test))}")

# %%
# The same network as a PyTorch module, where PyTorch is installed: ``nn.Linear``
# layers (their weights the transpose of stackae's) with their activations.

try:
    import torch
except ImportError:
    torch = None
if torch is not None:
    module = pipe[-1].to_torch()
    print(module)
    with torch.no_grad():
        scaled = torch.from_numpy(pipe[0].transform(data.X_test))
        gap = np.abs(module(scaled).numpy() - expected).max()
    print(f"largest difference from predict_proba: {gap:.2g}")

# %%
# The first test images with the probability ONNX Runtime gave their predicted label.

fig, axes = plt.subplots(1, 8, figsize=(10, 1.8))
for ax, image, label, p in zip(axes, data.X_test, labels, probabilities):
    ax.imshow(image.reshape(8, 8), cmap="gray_r")
    ax.set_title(f"{label} ({p.max():.0%})", fontsize=9)
    ax.axis("off")
plt.show()
