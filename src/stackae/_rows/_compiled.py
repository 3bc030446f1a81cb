"""Compiled element-wise kernels (Numba): each layer's bias, activation, derivative and
delta in one pass over a block, with a sigmoid whose ``exp`` the compiler vectorises.

Why: between its matrix products an evaluation makes several element-wise passes per
layer (add the bias, the activation, its derivative, the error, the delta, the column
sums). In NumPy each is a separate loop over the block, and on a CPU without AVX-512
NumPy's float64 ``exp`` is a scalar call of about 5 ns an element, which alone made the
output layer's sigmoid the largest cost outside the products
(``benchmarks/bench_objectives.py --breakdown``). The softmax head (a row's maximum,
``exp``, sum, log, cost, delta and column sums) is one kernel too.

Here each kernel makes one pass per row, in cache, with no temporary arrays, and
``exp`` is written out (range reduction to ``|r| <= ln 2 / 2``, a Taylor polynomial of
degree 13 in float64 and 7 in float32, then ``2**k`` built in the exponent bits, by a
bit cast, in the same loop) so that each kernel's loop over a row is one pass that
compiles to AVX/AVX2/AVX-512 vector instructions. The sigmoid agrees with NumPy's to
about 1.5 units in the last place (the tests allow 4), is exactly 0 and 1 where NumPy's
is, and keeps NaN and infinities; where NumPy's is a subnormal number, it may be 0
(``tests/test_compiled_kernels.py``).

The kernels release the GIL, so the blocks' threads (:mod:`._numpy`) run them at once.
They are compiled at first use and cached on disk by Numba (``cache=True``). Anything
they do not cover (other activations, arrays that are not C-contiguous, the
contractive and cross-entropy terms) goes to the NumPy kernels they extend, so results
agree with those to rounding, not to the bit. Dropout uses the NumPy kernels' masks,
bit for bit, without making them: the kernels compare the random numbers with the
threshold where they apply the mask, and ReLU's derivative is read from the masked
activations.

This module imports Numba; :func:`stackae.get_kernels` says whether it is used
(``STACKAE_KERNELS``, :func:`stackae.set_kernels`).
"""

from __future__ import annotations

import numba
import numpy as np
from numba.core import types
from numba.extending import intrinsic, overload

from .._random import keep_mask_of, philox_keep_bits
from ._numpy_kernels import NumpyKernels

__all__ = ["CompiledKernels"]

# No "reassoc": the exp's rounding step (x log2(e) + 1.5 2**52) - 1.5 2**52 must not be
# folded away, and the column sums must keep their order (reproducible results). No
# "nnan"/"ninf": a NaN or infinity stays one, so a diverging fit is still detected.
_JIT = dict(nogil=True, cache=True, fastmath={"nsz", "contract"}, boundscheck=False, error_model="numpy")

# ------------------------------------------------------------------ float64 exp
_LOG2E = 1.4426950408889634
_LN2_HI = 6.93145751953125e-1  # ln 2 split so that k * _LN2_HI is exact for |k| < 2**11
_LN2_LO = 1.42860682030941723212e-6
_SHIFT64 = 6755399441055744.0  # 1.5 * 2**52: x + _SHIFT64 rounds x to an integer k ...
_BIAS64 = np.int64(1023 - 0x4338000000000000)  # ... held in its low bits: bits - these + 1023
# Clamped to where 2**k has a normal exponent at the bottom (exp(-708) ~ 3e-308: the
# sigmoid is exactly 1 there, as NumPy's) and k = 1024 at the top, whose bits are those
# of infinity: the sigmoid is exactly 0 there, as NumPy's is once exp overflows.
_LO64, _HI64 = -708.0, 709.78

# ------------------------------------------------------------------ float32 exp
_F = np.float32
_LOG2E32, _LN2_HI32, _LN2_LO32 = _F(1.4426950408889634), _F(0.693359375), _F(-2.12194440e-4)
_SHIFT32 = _F(12582912.0)  # 1.5 * 2**23
_BIAS32 = np.int32(127 - 0x4B400000)
_LO32, _HI32 = _F(-87.0), _F(88.7)  # likewise: 2**-126 and 2**128 (infinity)
_C32 = tuple(_F(1.0 / f) for f in (5040.0, 720.0, 120.0, 24.0, 6.0, 2.0, 1.0, 1.0))


def _bit_cast(result_of):
    """A Numba intrinsic that reads a value's bits as the type ``result_of`` pairs with
    its own: LLVM's ``bitcast``, free in a vector register."""

    @intrinsic
    def cast(typingctx, value):
        result = result_of.get(value)
        if result is None:
            return None

        def codegen(context, builder, signature, args):
            return builder.bitcast(args[0], context.get_value_type(result))

        return result(value), codegen

    return cast


#: The float with the given bits (int32 -> float32, int64 -> float64): ``2**k`` built in
#: the exponent bits inside the loop that uses it.
_float_of_bits = _bit_cast({types.int32: types.float32, types.int64: types.float64})
#: The bits of a float: ``k`` read from the bits of ``x + 1.5 2**52``, with no
#: float-to-integer conversion (which LLVM leaves undefined for NaN).
_bits_of_float = _bit_cast({types.float32: types.int32, types.float64: types.int64})


@numba.njit(**_JIT)
def _exp_neg64(s):
    """``exp(-s)`` of a float64, to be inlined into a vectorised loop."""
    x = min(max(-s, _LO64), _HI64)
    kk = x * _LOG2E + _SHIFT64  # x / ln 2 rounded to an integer k, in the low bits
    k = kk - _SHIFT64
    r = (x - k * _LN2_HI) - k * _LN2_LO
    p = 1.0 / 6227020800.0
    p = p * r + 1.0 / 479001600.0
    p = p * r + 1.0 / 39916800.0
    p = p * r + 1.0 / 3628800.0
    p = p * r + 1.0 / 362880.0
    p = p * r + 1.0 / 40320.0
    p = p * r + 1.0 / 5040.0
    p = p * r + 1.0 / 720.0
    p = p * r + 1.0 / 120.0
    p = p * r + 1.0 / 24.0
    p = p * r + 1.0 / 6.0
    p = p * r + 0.5
    p = p * r + 1.0
    p = p * r + 1.0
    return p * _float_of_bits((_bits_of_float(kk) + _BIAS64) << 52)  # p * 2**k


@numba.njit(**_JIT)
def _exp_neg32(s):
    """The float32 twin of :func:`_exp_neg64` (every constant a float32, so the
    arithmetic stays float32)."""
    c0, c1, c2, c3, c4, c5, c6, c7 = _C32
    x = min(max(-s, _LO32), _HI32)
    kk = x * _LOG2E32 + _SHIFT32
    k = kk - _SHIFT32
    r = (x - k * _LN2_HI32) - k * _LN2_LO32
    p = c0
    p = p * r + c1
    p = p * r + c2
    p = p * r + c3
    p = p * r + c4
    p = p * r + c5
    p = p * r + c6
    p = p * r + c7
    # np.int32 outermost: Numba's int32 arithmetic gives int64, whose bits are a float64's
    return p * _float_of_bits(np.int32((_bits_of_float(kk) + _BIAS32) << 23))


def _exp_neg(s):
    """``exp(-s)``: compiled code calls :func:`_exp_neg32` or :func:`_exp_neg64` by
    ``s``'s type (below); Python (``NUMBA_DISABLE_JIT=1``) calls NumPy's."""
    with np.errstate(over="ignore"):
        return np.exp(-s)


@overload(_exp_neg, jit_options=_JIT)
def _exp_neg_of(s):
    """``exp(-s)`` in ``s``'s own precision."""
    return (lambda s: _exp_neg32(s)) if s == types.float32 else (lambda s: _exp_neg64(s))


# ------------------------------------------------------------------ layer kernels
@numba.njit(**_JIT)
def _bias_sigmoid(Z, b):
    """``Z = sigmoid(Z + b)`` row by row."""
    one = Z.dtype.type(1)
    for i in range(Z.shape[0]):
        z = Z[i]
        for j in range(z.shape[0]):
            z[j] = one / (one + _exp_neg(z[j] + b[j]))


@numba.njit(**_JIT)
def _bias_relu(Z, b):
    """``Z = max(Z + b, 0)``."""
    zero = Z.dtype.type(0)
    for i in range(Z.shape[0]):
        z = Z[i]
        for j in range(z.shape[0]):
            z[j] = max(z[j] + b[j], zero)


@numba.njit(**_JIT)
def _squared_error_delta(Z, b, T, sigmoid, colsum, squares):
    """Output layer of a squared-error reconstruction, in place: with ``X^ = f(Z + b)``
    (sigmoid or linear), ``Z`` becomes ``delta = (X^ - T) f'``, ``colsum`` its column
    sums and ``squares`` the column sums of ``(X^ - T)**2`` (in ``Z``'s dtype, as NumPy's
    dot product sums them: float64 sums would cost float32 twice the time)."""
    one = Z.dtype.type(1)
    for i in range(Z.shape[0]):
        z, t = Z[i], T[i]
        if sigmoid:
            for j in range(z.shape[0]):
                s = one / (one + _exp_neg(z[j] + b[j]))
                d = s - t[j]
                squares[j] += d * d
                d = d * (s * (one - s))
                z[j] = d
                colsum[j] += d
        else:
            for j in range(z.shape[0]):
                d = (z[j] + b[j]) - t[j]
                squares[j] += d * d
                z[j] = d
                colsum[j] += d


@numba.njit(**_JIT)
def _softmax_delta(S, y, scale, colsum):
    """The softmax head of scores ``S`` against labels ``y``, in place: ``S`` becomes
    ``(P - Y) * scale`` and ``colsum`` its column sums; returns the rows' summed cost
    ``log sum_j exp(S_ij - max_j S_ij) - (S_iy - max_j S_ij)``, summed in float64."""
    one = S.dtype.type(1)
    cost = 0.0
    for i in range(S.shape[0]):
        s = S[i]
        top = s[0]
        for j in range(s.shape[0]):
            top = max(top, s[j])
        picked = s[y[i]] - top
        total = S.dtype.type(0)
        for j in range(s.shape[0]):
            e = _exp_neg(top - s[j])
            s[j] = e
            total += e
        cost += np.log(np.float64(total)) - np.float64(picked)
        for j in range(s.shape[0]):
            d = s[j] / total
            if j == y[i]:
                d -= one
            d = d * scale
            s[j] = d
            colsum[j] += d
    return cost


@numba.njit(**_JIT)
def _hidden_delta(G, A, scale, shift, activation, colsum):
    """``G = (G * scale + shift) * f'(Z)`` from ``A = f(Z)`` (``activation`` 0: sigmoid,
    ``A (1 - A)``; 1: relu, ``[A > 0]``; 2: tanh, ``1 - A**2``), and its column sums."""
    one, zero = G.dtype.type(1), G.dtype.type(0)
    for i in range(G.shape[0]):
        g, a = G[i], A[i]
        for j in range(g.shape[0]):
            if activation == 0:
                f = a[j] * (one - a[j])
            elif activation == 1:
                f = one if a[j] > zero else zero * a[j]  # 0, or NaN for a NaN (as NumPy's sign)
            else:
                f = one - a[j] * a[j]
            d = (g[j] * scale + shift[j]) * f
            g[j] = d
            colsum[j] += d


@numba.njit(**_JIT)
def _dropout(A, bits, threshold, scale, F, activation):
    """Inverted dropout in place: ``A`` times ``scale`` where ``bits >= threshold``, else
    times 0; for sigmoid (0) and tanh (2) units ``F`` gets ``f'(Z)`` from ``A`` first
    (ReLU's is read from the masked ``A`` later: it is positive exactly where kept and
    positive before)."""
    one, zero = A.dtype.type(1), A.dtype.type(0)
    for i in range(A.shape[0]):
        a, r = A[i], bits[i]
        if activation == 0:
            f = F[i]
            for j in range(a.shape[0]):
                f[j] = (one - a[j]) * a[j]
        elif activation == 2:
            f = F[i]
            for j in range(a.shape[0]):
                f[j] = one - a[j] * a[j]
        for j in range(a.shape[0]):
            a[j] *= scale if r[j] >= threshold else zero


@numba.njit(**_JIT)
def _dropout_delta(G, A, F, bits, threshold, scale, activation, colsum):
    """``G = G * mask * f'(Z)`` and its column sums, the mask as in :func:`_dropout`
    and ``f'`` from ``F`` (sigmoid, tanh) or from the masked ``A`` (ReLU)."""
    one, zero = G.dtype.type(1), G.dtype.type(0)
    for i in range(G.shape[0]):
        g, a, f, r = G[i], A[i], F[i], bits[i]
        for j in range(g.shape[0]):
            d = g[j] * (scale if r[j] >= threshold else zero)
            if activation == 1:
                d = d * (one if a[j] > zero else zero * a[j])  # NaN stays NaN (as NumPy's sign)
            else:
                d = d * f[j]
            g[j] = d
            colsum[j] += d


@numba.njit(**_JIT)
def _dropped(X, bits, threshold, scale, out):
    """``out = X * mask`` (dropout on the input, which is left as it is)."""
    zero = X.dtype.type(0)
    for i in range(X.shape[0]):
        x, r, o = X[i], bits[i], out[i]
        for j in range(x.shape[0]):
            o[j] = x[j] * (scale if r[j] >= threshold else zero)


_DELTA_CODES = {"sigmoid": 0, "relu": 1, "tanh": 2}


def _fits(*arrays) -> bool:
    """The compiled kernels take C-contiguous float32/float64 arrays of one dtype."""
    # a loop, not all() over a generator: this runs a dozen times a minibatch step
    if not isinstance(arrays[0], np.ndarray):  # a device's tensor, say
        return False
    dtype = arrays[0].dtype
    if dtype.char not in "fd":
        return False
    for a in arrays:
        if not (isinstance(a, np.ndarray) and a.dtype == dtype and a.flags.c_contiguous):
            return False
    return True


class CompiledKernels(NumpyKernels):
    """:class:`~._numpy_kernels.NumpyKernels` with the layers' element-wise passes fused."""

    kind = "numba"

    def _row_vector(self, b, dtype, width: int, key: str):
        """``b`` as a contiguous vector of ``dtype`` (zeros when ``b`` is None)."""
        if b is None:
            out = self.buffer(key, (width,), dtype)
            out[...] = 0
            return out
        return np.ascontiguousarray(b, dtype=dtype)

    def activate(self, name, Z):
        if name == "sigmoid" and _fits(Z) and Z.ndim == 2:
            _bias_sigmoid(Z, self._row_vector(None, Z.dtype, Z.shape[1], "zero-bias"))
            return Z
        return super().activate(name, Z)

    def activate_affine(self, name, A, W, b, key=None):
        Z = self.matmul(A, W, key)
        if name in ("sigmoid", "relu") and _fits(Z) and Z.ndim == 2:
            b = self._row_vector(b, Z.dtype, Z.shape[1], "bias")
            if name == "sigmoid":
                _bias_sigmoid(Z, b)
            else:
                _bias_relu(Z, b)
            return Z
        Z += b
        return self.activate(name, Z)

    def squared_error_delta(self, name, A, W, b, T, key=None):
        if name not in ("sigmoid", "linear"):
            return super().squared_error_delta(name, A, W, b, T, key)
        Z = self.matmul(A, W, key)
        if not (_fits(Z, T) and Z.ndim == 2):
            Z += b
            return self._squared_error_delta_of(name, Z, T)
        width = Z.shape[1]
        colsum = self.buffer("delta-colsum", (width,), Z.dtype)
        squares = self.buffer("delta-squares", (width,), Z.dtype)
        colsum[...] = 0
        squares[...] = 0
        b = self._row_vector(b, Z.dtype, width, "bias")
        _squared_error_delta(Z, b, T, name == "sigmoid", colsum, squares)
        return 0.5 * float(squares.sum(dtype=np.float64)), Z, colsum.copy()

    def softmax_delta(self, S, y, inv_m, w=None):
        if w is not None or not (_fits(S) and S.ndim == 2 and isinstance(y, np.ndarray) and y.dtype.kind in "iu"):
            return super().softmax_delta(S, y, inv_m, w)
        colsum = self.buffer("softmax-colsum", (S.shape[1],), S.dtype)
        colsum[...] = 0
        cost = _softmax_delta(S, y, S.dtype.type(inv_m), colsum)
        return cost, S, colsum.copy()

    def hidden_delta(self, name, G, A, scale=None, shift=None):
        code = _DELTA_CODES.get(name)
        if code is None or not (_fits(G, A) and G.ndim == 2):
            return super().hidden_delta(name, G, A, scale, shift)
        width = G.shape[1]
        colsum = self.buffer("hidden-colsum", (width,), G.dtype)
        colsum[...] = 0
        shift = self._row_vector(shift, G.dtype, width, "zero-shift")
        _hidden_delta(G, A, G.dtype.type(1.0 if scale is None else scale), shift, code, colsum)
        return G, colsum.copy()

    # dropout: the mask is never made; the kernels compare Philox's 16-bit numbers with
    # the threshold where they use it (the same mask as the NumPy kernels', bit for bit)
    def dropout(self, name, A, seed, stream, start, dropout, key=None):
        code = _DELTA_CODES.get(name)
        if code is None or not (_fits(A) and A.ndim == 2):
            return super().dropout(name, A, seed, stream, start, dropout, key)
        bits, threshold, scale = philox_keep_bits(seed, stream, start, tuple(A.shape), dropout, A.dtype)
        F = A if code == 1 else self.buffer(key or f"fprime-{name}", A.shape, A.dtype)  # ReLU: not written
        _dropout(A, bits, threshold, A.dtype.type(scale), F, code)
        return A, (bits, threshold, scale, F)

    def dropout_delta(self, name, G, A, memo):
        if len(memo) == 2:  # made by the NumPy kernels' dropout
            return super().dropout_delta(name, G, A, memo)
        bits, threshold, scale, F = memo
        if not (_fits(G, A) and G.ndim == 2):
            mask = keep_mask_of(bits, threshold, scale, G.dtype)
            return super().dropout_delta(name, G, A, (mask, self.derivative(name, A) if F is A else F))
        colsum = self.buffer("hidden-colsum", (G.shape[1],), G.dtype)
        colsum[...] = 0
        _dropout_delta(G, A, F, bits, threshold, G.dtype.type(scale), _DELTA_CODES[name], colsum)
        return G, colsum.copy()

    def dropped(self, X, seed, stream, start, dropout):
        if not (_fits(X) and X.ndim == 2):
            return super().dropped(X, seed, stream, start, dropout)
        bits, threshold, scale = philox_keep_bits(seed, stream, start, tuple(X.shape), dropout, X.dtype)
        out = np.empty_like(X)
        _dropped(X, bits, threshold, X.dtype.type(scale), out)
        return out


# ------------------------------------------------------------------ optimizer steps
# A minibatch step's update is a few passes over the parameters in NumPy (Adam: nine);
# fused, it is one. Scalars arrive in the parameters' dtype, so float32 stays float32.
@numba.njit(**_JIT)
def _adam(theta, m, v, g, beta1, beta2, c1, c2, epsilon, step):
    for i in range(theta.shape[0]):
        gi = g[i]
        mi = m[i] * beta1 + c1 * gi
        vi = v[i] * beta2 + c2 * (gi * gi)
        m[i] = mi
        v[i] = vi
        theta[i] -= step * (mi / (np.sqrt(vi) + epsilon))


@numba.njit(**_JIT)
def _sgd(theta, velocity, g, momentum, lr, nesterov):
    for i in range(theta.shape[0]):
        gi = g[i]
        vi = velocity[i] * momentum - lr * gi
        velocity[i] = vi
        if nesterov:
            theta[i] += momentum * vi - lr * gi
        else:
            theta[i] += vi


@numba.njit(**_JIT)
def _max_norm(W, c):
    # the columns' squared norms in one pass down the rows (contiguous, vectorised),
    # then, only if a column is over c, one pass scaling those columns to norm c
    n_in, n_out = W.shape
    scale = np.zeros(n_out, dtype=W.dtype)
    for i in range(n_in):
        for j in range(n_out):
            scale[j] += W[i, j] * W[i, j]
    over = False
    for j in range(n_out):
        norm = np.sqrt(scale[j])
        if norm > c:
            scale[j] = c / norm
            over = True
        else:
            scale[j] = 1
    if over:
        for i in range(n_in):
            for j in range(n_out):
                W[i, j] *= scale[j]


@numba.njit(**_JIT)
def _scaled_plus(out, g, scale, W, alpha):
    for i in range(out.shape[0]):
        out[i] = g[i] * scale + alpha * W[i]


@numba.njit(**_JIT)
def _scaled(out, g, scale):
    for i in range(out.shape[0]):
        out[i] = g[i] * scale


def scaled_plus(out, g, scale, W=None, alpha=0.0) -> bool:
    """``out = g * scale + alpha * W`` (``g * scale`` when ``W`` is None) in one pass: a
    gradient's piece with its weight decay, written into the flat gradient; False,
    doing nothing, when the vectors are not ones the kernel takes."""
    arrays = (out, g) if W is None else (out, g, W)
    if not (_fits(*arrays) and out.ndim == 1):
        return False
    t = out.dtype.type
    if W is None:
        _scaled(out, g, t(scale))
    else:
        _scaled_plus(out, g, t(scale), W, t(alpha))
    return True


def max_norm(W, c) -> bool:
    """Scale the columns of ``W`` whose norm exceeds ``c`` to norm ``c``, in place (see
    :func:`stackae.estimators._stages.max_norm_projection`); False, doing nothing, when
    ``W`` is not a matrix the kernel takes."""
    if not (_fits(W) and W.ndim == 2):
        return False
    _max_norm(W, W.dtype.type(c))
    return True


def adam_step(theta, m, v, g, beta1, beta2, epsilon, step) -> bool:
    """Adam's update in one pass (see :class:`stackae.optim._Adam`); False, doing
    nothing, when the arrays are not the contiguous float vectors the kernel takes."""
    if not (_fits(theta, m, v, g) and theta.ndim == 1):
        return False
    t = theta.dtype.type
    _adam(theta, m, v, g, t(beta1), t(beta2), t(1 - beta1), t(1 - beta2), t(epsilon), t(step))
    return True


def sgd_step(theta, velocity, g, momentum, lr, nesterov) -> bool:
    """The momentum update in one pass (see :class:`stackae.optim._SGDMomentum`);
    False, doing nothing, when the arrays are not ones the kernel takes."""
    if not (_fits(theta, velocity, g) and theta.ndim == 1):
        return False
    t = theta.dtype.type
    _sgd(theta, velocity, g, t(momentum), t(lr), bool(nesterov))
    return True
