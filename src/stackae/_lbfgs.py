r"""L-BFGS with a strong Wolfe line search, written once against the array API: the
one L-BFGS of :func:`stackae.optim.lbfgs`, for parameters on the host and on a device.

Its vectors stay where the parameters are. On a GPU (PyTorch, CuPy) what crosses to
the host per evaluation is two numbers (the cost and the directional derivative), which
the line search must compare; on the host its vector work is BLAS-1 calls, lighter
than scipy's L-BFGS-B, whose compact representation also serves bounds, which no stage
here has (the results pages compare the two).

The method is the textbook one (Nocedal & Wright, *Numerical Optimization*, 2nd ed.):
the two-loop recursion (Algorithm 7.4) with the initial scaling
:math:`\gamma = s^T y / y^T y`, and the line search of Algorithms 3.5 and 3.6 (bracket,
then zoom) with safeguarded cubic interpolation, constants
:math:`c_1 = 10^{-4}`, :math:`c_2 = 0.9`, as minFunc (UFLDL's optimiser) and
``torch.optim.LBFGS(line_search_fn="strong_wolfe")`` use.
"""

from __future__ import annotations

import math
from collections import deque

__all__ = ["minimize"]

C1, C2 = 1e-4, 0.9


def _cubic_minimizer(t1, f1, g1, t2, f2, g2, low, high):
    """Minimiser of the cubic through ``(t, f, f')`` at ``t1`` and ``t2``, kept in
    ``[low, high]``; the midpoint when the cubic has none."""
    d1 = g1 + g2 - 3.0 * (f1 - f2) / (t1 - t2)
    disc = d1 * d1 - g1 * g2
    if disc >= 0 and math.isfinite(disc):
        d2 = math.copysign(math.sqrt(disc), t2 - t1)
        denom = g2 - g1 + 2.0 * d2
        if denom != 0:
            t = t2 - (t2 - t1) * (g2 + d2 - d1) / denom
            if math.isfinite(t):
                return min(max(t, low), high)
    return 0.5 * (low + high)


class _LineSearch:
    """One strong Wolfe line search along ``d`` from ``x``."""

    def __init__(self, fun, dot, x, d, f0, g0, gtd0, max_evals):
        self.fun, self.dot, self.x, self.d = fun, dot, x, d
        self.f0, self.gtd0 = f0, gtd0
        self.max_evals = max_evals
        self.evals = 0
        self.best = (0.0, f0, g0, gtd0)  # lowest cost seen: (t, f, g, gtd)

    def evaluate(self, t):
        self.evals += 1
        f, g = self.fun(self.x + t * self.d)
        gtd = self.dot(g, self.d)
        if f < self.best[1]:
            self.best = (t, f, g, gtd)
        return f, g, gtd

    def armijo_fails(self, t, f):
        return f > self.f0 + C1 * t * self.gtd0

    def curvature_holds(self, gtd):
        return abs(gtd) <= -C2 * self.gtd0

    def search(self, t):
        t_prev, f_prev, g_prev, gtd_prev = 0.0, self.f0, None, self.gtd0
        f, g, gtd = self.evaluate(t)
        while True:
            if self.armijo_fails(t, f) or (t_prev > 0 and f >= f_prev):
                return self.zoom((t_prev, f_prev, g_prev, gtd_prev), (t, f, g, gtd))
            if self.curvature_holds(gtd):
                return t, f, g
            if gtd >= 0:
                return self.zoom((t, f, g, gtd), (t_prev, f_prev, g_prev, gtd_prev))
            if self.evals >= self.max_evals:
                return self.fallback()
            # extrapolate: the cubic's minimiser, at least a bit and at most 10x further
            t_next = _cubic_minimizer(t_prev, f_prev, gtd_prev, t, f, gtd, t + 0.01 * (t - t_prev), 10.0 * t)
            t_prev, f_prev, g_prev, gtd_prev = t, f, g, gtd
            t = t_next
            f, g, gtd = self.evaluate(t)

    def zoom(self, lo, hi):
        """``lo`` satisfies the sufficient decrease and has the lower cost; the minimiser
        lies between ``lo`` and ``hi``."""
        while self.evals < self.max_evals:
            (t_lo, f_lo, _, gtd_lo), (t_hi, f_hi, _, gtd_hi) = lo, hi
            a, b = min(t_lo, t_hi), max(t_lo, t_hi)
            if b - a < 1e-12 * max(1.0, b):
                break
            margin = 0.1 * (b - a)  # stay clear of the ends
            t = _cubic_minimizer(t_lo, f_lo, gtd_lo, t_hi, f_hi, gtd_hi, a + margin, b - margin)
            f, g, gtd = self.evaluate(t)
            if self.armijo_fails(t, f) or f >= f_lo:
                hi = (t, f, g, gtd)
            else:
                if self.curvature_holds(gtd):
                    return t, f, g
                if gtd * (t_hi - t_lo) >= 0:
                    hi = lo
                lo = (t, f, g, gtd)
        return self.fallback()

    def fallback(self):
        """Out of evaluations: the best point seen, if it lowered the cost."""
        t, f, g, _ = self.best
        return t, f, g


def _vector_ops(xp, x):
    """``(dot, dot_on_device, axpy)`` for vectors like ``x``: ``dot`` a float the host
    compares, ``dot_on_device`` a number only the recursion uses (a 0-d array on a
    device: no synchronisation), ``axpy(a, u, q)`` is ``q + a * u``, made in place in
    ``q`` where the namespace can. On the host these are BLAS-1 calls: one pass each,
    no temporaries (the generic ``sum(a * b)`` and ``q - a * u`` make two or three)."""
    import numpy as np

    if isinstance(x, np.ndarray) and x.dtype in (np.float32, np.float64):
        from scipy.linalg import blas

        blas_dot, blas_axpy = blas.get_blas_funcs(("dot", "axpy"), (x,))

        def host_dot(a, b):
            return float(blas_dot(a, b))

        def host_axpy(a, u, q):
            return blas_axpy(u, q, a=float(a))  # q is contiguous and of u's type: updated in place

        return host_dot, host_dot, host_axpy

    def dot(a, b):
        return float(xp.sum(a * b))

    def dot_on_device(a, b):
        return xp.sum(a * b)

    def axpy(a, u, q):
        return q + a * u

    return dot, dot_on_device, axpy


def minimize(
    fun, x0, *, xp, max_iter: int, gtol: float = 1e-6, ftol: float = 1e-15, history: int = 10, callback=None, max_ls=25
):
    """Minimise ``fun(x) -> (cost: float, grad: array)`` from ``x0`` (an array of ``xp``).

    Stops after ``max_iter`` iterations, when the largest gradient component is at most
    ``gtol``, when an iteration lowers the cost by at most ``ftol * max(|f_prev|, |f|, 1)``, when
    the line search cannot lower the cost, or when ``callback(x, f)`` raises
    ``StopIteration``. Returns ``(x, f, n_iter, converged, message)``.
    """

    dot, dot_on_device, axpy = _vector_ops(xp, x0)

    def inf_norm(a):
        return float(xp.max(xp.abs(a)))

    x = x0
    f, g = fun(x)
    pairs: deque = deque(maxlen=max(int(history), 1))  # (s, y, 1 / y^T s, y^T y), scalars on the device
    n_iter = 0
    if inf_norm(g) <= gtol:
        return x, f, 0, True, "the gradient is below gtol at the start"
    while n_iter < max_iter:
        # two-loop recursion: d = -H g (its scalars stay on the device)
        q = -g  # a new vector, updated in place below where the namespace can
        alphas = []
        for s, y, rho, _ in reversed(pairs):
            a = rho * dot_on_device(s, q)
            alphas.append(a)
            q = axpy(-a, y, q)
        if pairs:
            _, _, rho, yy = pairs[-1]
            q = q / (rho * yy)  # times gamma = s^T y / y^T y
        for (s, y, rho, _), a in zip(pairs, reversed(alphas)):
            b = rho * dot_on_device(y, q)
            q = axpy(a - b, s, q)
        d = q
        gtd = dot(g, d)
        if not gtd < 0:  # not a descent direction: forget the curvature, go downhill
            pairs.clear()
            d = -g
            gtd = dot(g, d)
        t0 = 1.0 if pairs or n_iter else min(1.0, 1.0 / max(float(xp.sum(xp.abs(g))), 1e-300))
        search = _LineSearch(fun, dot, x, d, f, g, gtd, max_ls)
        t, f_new, g_new = search.search(t0)
        if t == 0.0:
            return x, f, n_iter, True, "the line search could not lower the cost"
        s = t * d
        y = g_new - g
        ys, yy = dot(y, s), dot_on_device(y, y)
        if ys > 1e-10 * max(1.0, float(yy)):
            pairs.append((s, y, 1.0 / ys, yy))
        x = x + s
        f_prev, f, g = f, f_new, g_new
        n_iter += 1
        if callback is not None:
            try:
                callback(x, f)
            except StopIteration:
                return x, f, n_iter, True, "stopped by the callback"
        if inf_norm(g) <= gtol:
            return x, f, n_iter, True, "the gradient is below gtol"
        if abs(f_prev - f) <= ftol * max(abs(f_prev), abs(f), 1.0):
            return x, f, n_iter, True, "the cost stopped changing"
    return x, f, n_iter, False, f"max_iter={max_iter} iterations reached"
