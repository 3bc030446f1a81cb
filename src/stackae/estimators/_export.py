"""``to_torch`` on every estimator: a thin door to :mod:`stackae.export`, which builds
the module (and imports the estimators: the import here waits for the call)."""

from __future__ import annotations

__all__ = ["TorchExportMixin"]


class TorchExportMixin:
    def to_torch(self, output=None, dtype=None):
        """This fitted model as a ``torch.nn.Module`` (its layers as ``nn.Linear``, its
        activations, its output): see :func:`stackae.export.to_torch` for ``output``
        (default: ``predict_proba``, ``predict`` or ``transform``) and ``dtype``."""
        from ..export import to_torch

        return to_torch(self, output, dtype)
