r"""The Ladder network's objective (Rasmus et al., "Semi-Supervised Learning with Ladder
Networks", NIPS 2015), as a block function, in row-major form.

An encoder of layer sizes ``(n_0, ..., n_L)`` (``n_L`` the classes), batch-normalised
before each nonlinearity, runs twice on a batch: clean, and corrupted by Gaussian noise
of standard deviation ``sigma`` at every layer. A decoder walks back down from the
corrupted output, and at every layer ``l`` a denoising function ``g`` combines the
corrupted value ``z~_l`` with the signal from above ``u_l`` into an estimate ``z^_l`` of
the clean ``z_l``. The cost is the supervised cross-entropy of the corrupted output on
the labeled rows plus, on the unlabeled rows, every layer's denoising cost::

    clean:      h_0 = x;  z_l = BN(h_{l-1} W_l);  h_l = relu(z_l + beta_l)  (l < L)
    corrupted:  h~_0 = x + sigma e_0;  z~_l = BN(h~_{l-1} W_l) + sigma e_l
                h~_l = relu(z~_l + beta_l) (l < L);  P~ = softmax(gamma * (z~_L + beta_L))
    decoder:    u_L = BN(P~);  u_l = BN(z^_{l+1} V_{l+1})  (l < L)
                z^_l = g(z~_l, u_l; a_l)
    cost:       -mean_labeled log P~[i, y_i]
                + sum_l lambda_l / n_l * mean_unlabeled || (z^_l - mu_l) / s_l - z_l ||^2

``BN`` normalises each column by the batch's mean and standard deviation (no learned
scale: the ReLU units are scale-free, and the top layer has ``gamma``); ``mu_l, s_l``
are the clean pass's statistics at layer ``l`` (0 and 1 at the input, where
``z_0 = x``). ``g`` is the paper's "vanilla" combinator, ten parameters a unit::

    m = a1 sigmoid(a2 u + a3) + a4 u + a5;   v = a6 sigmoid(a7 u + a8) + a9 u + a10
    z^ = (z~ - m) v + m

The labeled and unlabeled parts of a batch are normalised each by its own statistics
(as the public reproductions of the paper do), so the labeled rows' cost does not
depend on which unlabeled rows share their batch. The Gamma-model is the same cost
with only ``lambda_L`` nonzero; the paper's supervised baseline (batch normalisation and
noise, no decoder) has every ``lambda_l = 0``. The gradient flows through the clean
pass too (its values are the targets, its statistics normalise the estimates), and
every term is checked against central differences in ``tests/test_ladder.py``.

Batch normalisation couples the rows of a batch: :func:`ladder_cost_grad` needs the
whole batch in one block, and says so when an engine splits it. The noise of row ``i``
at layer ``l`` is a function of ``(seed, l, i)`` only (:meth:`Kernels.normal`).

The packing of ``theta`` (:func:`ladder_layout`): ``W_1..W_L``, ``beta_1..beta_L``,
``gamma``, ``V_1..V_L`` (``V_l`` of shape ``(n_l, n_{l-1})``), then ``a_0..a_L``
(each of shape ``(10, n_l)``).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from ._params import reshape

__all__ = [
    "LadderSpec",
    "ladder_layout",
    "ladder_n_params",
    "ladder_init",
    "ladder_unpack",
    "ladder_cost_grad",
    "ladder_scores",
    "ladder_fold",
    "BN_EPSILON",
]

#: Added to the variance before its square root, as in the reference implementation.
BN_EPSILON = 1e-10

#: The combinator's parameters' first values (a1..a10): z^ = z~ at the start.
_COMBINATOR_INIT = (0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0)

#: Noise streams: layer ``l``'s noise is drawn from stream ``_NOISE_STREAM + l``.
_NOISE_STREAM = 1000


@dataclass(frozen=True)
class LadderSpec:
    """A Ladder network's static description for one batch.

    ``sizes``: ``(n_0, ..., n_L)``, ``n_L`` the classes; ``denoising``: the weights
    ``lambda_0..lambda_L`` of the layers' denoising costs; ``noise``: the standard
    deviation of the corrupted pass's noise; ``n_labeled``: the batch's first
    ``n_labeled`` rows are labeled, the rest unlabeled; ``seed``: the noise's seed;
    ``n_rows``: the batch's rows, which the block function checks its block against
    (:func:`ladder_cost_grad` sets it)."""

    sizes: tuple
    denoising: tuple
    noise: float = 0.3
    n_labeled: int = 0
    seed: int = 0
    n_rows: int = 0

    @property
    def decoded_from(self) -> int:
        """The lowest layer with a denoising cost (``L + 1`` when there is none): the
        decoder runs from the top down to it."""
        nonzero = [layer for layer, weight in enumerate(self.denoising) if weight != 0]
        return min(nonzero) if nonzero else len(self.sizes)


def ladder_layout(sizes):
    """``[(name, shape), ...]`` of ``theta``'s pieces, in packing order."""
    sizes = tuple(int(s) for s in sizes)
    L = len(sizes) - 1
    layout = [(f"W{layer}", (sizes[layer - 1], sizes[layer])) for layer in range(1, L + 1)]
    layout += [(f"beta{layer}", (sizes[layer],)) for layer in range(1, L + 1)]
    layout += [("gamma", (sizes[L],))]
    layout += [(f"V{layer}", (sizes[layer], sizes[layer - 1])) for layer in range(1, L + 1)]
    layout += [(f"a{layer}", (10, sizes[layer])) for layer in range(L + 1)]
    return layout


def ladder_n_params(sizes) -> int:
    return sum(int(np.prod(shape)) for _, shape in ladder_layout(sizes))


def ladder_unpack(theta, sizes) -> dict:
    """``{name: view}`` of ``theta``'s pieces (views where the library gives them)."""

    out, offset = {}, 0
    for name, shape in ladder_layout(sizes):
        size = int(np.prod(shape))
        out[name] = reshape(theta[offset : offset + size], shape)
        offset += size
    return out


def ladder_init(sizes, rng, dtype=np.float64) -> np.ndarray:
    """The first ``theta``, as the reference implementation makes it: weights
    ``N(0, 1) / sqrt(n_in)``, ``beta = 0``, ``gamma = 1``, combinators that pass ``z~``
    through unchanged."""
    pieces = []
    for name, shape in ladder_layout(sizes):
        if name[0] in "WV":
            pieces.append(rng.standard_normal(shape) / np.sqrt(shape[0]))
        elif name == "gamma":
            pieces.append(np.ones(shape))
        elif name[0] == "a":
            pieces.append(np.repeat(np.asarray(_COMBINATOR_INIT)[:, None], shape[1], axis=1))
        else:
            pieces.append(np.zeros(shape))
    return np.concatenate([p.ravel() for p in pieces]).astype(dtype)


# --------------------------------------------------------------------- pieces
def _mean_rows(xp, A):
    return xp.sum(A, axis=0) / A.shape[0]


def _bn(xp, Z):
    """``(N, mu, s)``: ``Z``'s columns normalised by the rows' mean and standard deviation."""
    mu = _mean_rows(xp, Z)
    D = Z - mu
    s = xp.sqrt(_mean_rows(xp, D * D) + BN_EPSILON)
    return D / s, mu, s


def _bn_back(xp, dN, N, s, dmu=None, ds=None):
    """The gradient on ``Z`` of :func:`_bn`'s ``N = (Z - mu) / s`` given the one on
    ``N`` (and on ``mu`` and ``s`` themselves, where they are used elsewhere):
    ``(dN - mean(dN) - N mean(dN N)) / s + dmu / m + N ds / m``."""
    m = N.shape[0]
    G = (dN - _mean_rows(xp, dN) - N * _mean_rows(xp, dN * N)) / s
    if dmu is not None:
        G = G + dmu / m + N * (ds / m)
    return G


def _sigmoid(xp, Z):
    return 1.0 / (1.0 + xp.exp(-Z))


def _softmax(xp, S):
    E = xp.exp(S - xp.max(S, axis=1, keepdims=True))
    return E / xp.sum(E, axis=1, keepdims=True)


def _combine(xp, zt, u, a):
    """The vanilla combinator: ``(z^, memo)``."""
    s1 = _sigmoid(xp, a[1] * u + a[2])
    s2 = _sigmoid(xp, a[6] * u + a[7])
    m = a[0] * s1 + a[3] * u + a[4]
    v = a[5] * s2 + a[8] * u + a[9]
    return (zt - m) * v + m, (s1, s2, m, v)


def _combine_back(xp, dz, zt, u, a, memo):
    """``(d z~, d u, d a)`` of :func:`_combine` given the gradient ``dz`` on ``z^``."""
    s1, s2, m, v = memo
    dm = dz * (1.0 - v)
    dv = dz * (zt - m)
    g1 = dm * a[0] * s1 * (1.0 - s1)  # on a2 u + a3
    g2 = dv * a[5] * s2 * (1.0 - s2)  # on a7 u + a8
    rows = [
        xp.sum(dm * s1, axis=0),
        xp.sum(g1 * u, axis=0),
        xp.sum(g1, axis=0),
        xp.sum(dm * u, axis=0),
        xp.sum(dm, axis=0),
        xp.sum(dv * s2, axis=0),
        xp.sum(g2 * u, axis=0),
        xp.sum(g2, axis=0),
        xp.sum(dv * u, axis=0),
        xp.sum(dv, axis=0),
    ]
    du = g1 * a[1] + dm * a[3] + g2 * a[6] + dv * a[8]
    return dz * v, du, xp.stack(rows)


def _encode(k, X, p, L, noise, start):
    """One encoder pass over rows ``X`` (the corrupted one when ``noise`` is a
    ``(sigma, seed)`` pair): its values at every layer, for the backward pass."""
    xp = k.xp
    h = X
    if noise is not None:
        sigma, seed = noise
        h = X + sigma * k.normal(seed, _NOISE_STREAM, start, tuple(X.shape), X.dtype)
    passed = {"h": [h], "N": [None], "mu": [None], "s": [None], "z": [h], "mask": [None]}
    for layer in range(1, L + 1):
        N, mu, s = _bn(xp, k.matmul(h, p[f"W{layer}"]))
        z = N if noise is None else N + sigma * k.normal(seed, _NOISE_STREAM + layer, start, tuple(N.shape), N.dtype)
        for key, value in (("N", N), ("mu", mu), ("s", s), ("z", z)):
            passed[key].append(value)
        if layer < L:
            pre = z + p[f"beta{layer}"]
            mask = pre > 0
            h = xp.where(mask, pre, xp.zeros_like(pre))
            passed["mask"].append(mask)
            passed["h"].append(h)
        else:
            passed["P"] = _softmax(xp, p["gamma"] * (z + p[f"beta{L}"]))
    return passed


def _encode_back(k, passed, p, grads, L, dz, dstats=None):
    """Backpropagate through an :func:`_encode` pass: ``dz[l]`` is the gradient on its
    ``z_l`` (``None`` for none), ``dstats[l]`` on its statistics ``(mu_l, s_l)``;
    accumulates into ``grads``."""
    xp = k.xp
    carry = None  # the gradient on z_l from the layers above
    for layer in range(L, 0, -1):
        G = dz[layer] if carry is None else (carry if dz[layer] is None else carry + dz[layer])
        extra = (None, None) if dstats is None or dstats[layer] is None else dstats[layer]
        if G is None and extra[0] is None:
            carry = None  # nothing reaches this layer from above: a clean pass's top
            continue
        if G is None:
            G = xp.zeros_like(passed["N"][layer])
        dZ = _bn_back(xp, G, passed["N"][layer], passed["s"][layer], *extra)
        grads[f"W{layer}"] = grads[f"W{layer}"] + k.matmul(passed["h"][layer - 1].T, dZ)
        if layer > 1:
            dh = k.matmul(dZ, p[f"W{layer}"].T)
            carry = xp.where(passed["mask"][layer - 1], dh, xp.zeros_like(dh))
            grads[f"beta{layer - 1}"] = grads[f"beta{layer - 1}"] + xp.sum(carry, axis=0)


def _ladder_block(k, block, spec: LadderSpec, p):
    """The block function: the whole batch's cost and gradient pieces (in
    :func:`ladder_layout`'s order)."""
    xp = k.xp
    X = block.X
    rows = X.shape[0]
    if block.start != 0 or rows != spec.n_rows:
        raise ValueError(
            "The Ladder network's batch normalization couples the rows of a batch, which must "
            f"be one block: a batch of {spec.n_rows} rows reached it as a block of {rows} rows "
            f"at row {block.start}. Use a smaller batch_size, or rows in memory or on one device."
        )
    sizes, L = tuple(spec.sizes), len(spec.sizes) - 1
    grads = {name: xp.zeros(shape, dtype=X.dtype, device=k.device) for name, shape in ladder_layout(sizes)}
    nl = int(spec.n_labeled)
    noise = (float(spec.noise), int(spec.seed))
    cost = 0.0

    # the labeled part: the corrupted pass's cross-entropy
    if nl > 0:
        XL = X[:nl, ...]
        corrupted_l = _encode(k, XL, p, L, noise, 0)
        P = corrupted_l["P"]
        Y = k.one_hot(block.y[:nl], sizes[L], X.dtype)
        picked = xp.sum(P * Y, axis=1)
        cost = cost - xp.sum(xp.log(picked)) / nl
        dS = (P - Y) / nl
        zL = corrupted_l["z"][L] + p[f"beta{L}"]
        grads["gamma"] = grads["gamma"] + xp.sum(dS * zL, axis=0)
        grads[f"beta{L}"] = grads[f"beta{L}"] + xp.sum(dS * p["gamma"], axis=0)
        dz = [None] * (L + 1)
        dz[L] = dS * p["gamma"]
        _encode_back(k, corrupted_l, p, grads, L, dz)

    # the unlabeled part: the decoder's denoising costs
    lowest = spec.decoded_from
    nu = rows - nl
    if lowest <= L and nu > 0:
        XU = X[nl:, ...]
        clean = _encode(k, XU, p, L, None, 0)
        corrupted = _encode(k, XU, p, L, noise, nl)
        zhat: dict[int, Any] = {}
        memos: dict[int, Any] = {}
        us: dict[int, Any] = {}
        for layer in range(L, lowest - 1, -1):
            above = corrupted["P"] if layer == L else k.matmul(zhat[layer + 1], p[f"V{layer + 1}"])
            us[layer] = _bn(xp, above)
            zhat[layer], memos[layer] = _combine(xp, corrupted["z"][layer], us[layer][0], p[f"a{layer}"])
        dz_clean = [None] * (L + 1)
        dstats: list[Any] = [None] * (L + 1)
        dz_corrupted = [None] * (L + 1)
        carry = None  # the gradient on z^_l from the layer below it
        for layer in range(lowest, L + 1):
            weight = float(spec.denoising[layer]) / (sizes[layer] * nu)
            target = clean["z"][layer]
            if layer > 0:
                mu, s = clean["mu"][layer], clean["s"][layer]
                estimate = (zhat[layer] - mu) / s
            else:
                estimate = zhat[layer]
            diff = estimate - target
            cost = cost + weight * xp.sum(diff * diff)
            dd = (2.0 * weight) * diff
            if layer > 0:
                dzhat = dd / s
                dz_clean[layer] = -dd
                dstats[layer] = (-xp.sum(dd, axis=0) / s, -xp.sum(dd * estimate, axis=0) / s)
            else:
                dzhat = dd
            if carry is not None:
                dzhat = dzhat + carry
            dzt, du, da = _combine_back(xp, dzhat, corrupted["z"][layer], us[layer][0], p[f"a{layer}"], memos[layer])
            grads[f"a{layer}"] = da
            dz_corrupted[layer] = dzt
            d_above = _bn_back(xp, du, us[layer][0], us[layer][2])
            if layer < L:
                grads[f"V{layer + 1}"] = k.matmul(zhat[layer + 1].T, d_above)
                carry = k.matmul(d_above, p[f"V{layer + 1}"].T)
            else:
                dP = d_above
        # into the corrupted pass: from the softmax's batch-normalised output and each z~_l
        P = corrupted["P"]
        dS = P * (dP - xp.sum(dP * P, axis=1, keepdims=True))
        zL = corrupted["z"][L] + p[f"beta{L}"]
        grads["gamma"] = grads["gamma"] + xp.sum(dS * zL, axis=0)
        grads[f"beta{L}"] = grads[f"beta{L}"] + xp.sum(dS * p["gamma"], axis=0)
        dz_corrupted[L] = dz_corrupted[L] + dS * p["gamma"]
        _encode_back(k, corrupted, p, grads, L, dz_corrupted)
        # into the clean pass: its values are the targets, its statistics the estimates' scale
        _encode_back(k, clean, p, grads, L, dz_clean, dstats)
    parts = [grads[name] for name, _ in ladder_layout(sizes)]
    return cost, parts, None


def _flat(xp, parts):
    return xp.concat([xp.reshape(g, (-1,)) for g in parts])


def ladder_cost_grad(rows, theta, spec: LadderSpec):
    """``(cost, grad)`` of the Ladder objective on the batch held by the rows engine
    ``rows`` (labels in ``rows.y``; the first ``spec.n_labeled`` rows labeled), ``grad``
    flat like ``theta`` in its namespace."""
    p = ladder_unpack(theta, spec.sizes)
    spec = replace(spec, n_rows=int(rows.n_samples))
    cost, parts, _ = rows.map_sum(_ladder_block, (spec, p))
    return cost, _flat(rows.xp, parts)


def ladder_scores(X, theta, sizes):
    """The clean encoder's softmax input for rows ``X`` (NumPy), each layer normalised by
    these rows' own statistics: a validation score during training, before the
    training rows' statistics are folded into the weights (:func:`ladder_fold`)."""
    p = ladder_unpack(theta, sizes)
    L = len(sizes) - 1
    h = X
    for layer in range(1, L + 1):
        N = _bn(np, h @ p[f"W{layer}"])[0]
        if layer < L:
            h = np.maximum(N + p[f"beta{layer}"], 0.0)
    return p["gamma"] * (N + p[f"beta{L}"])


def ladder_fold(theta, sizes, statistics):
    """The trained encoder as a plain ReLU network with a softmax on top, ``(weights,
    biases)`` with ``W_l`` of shape ``(n_{l-1}, n_l)``: each layer's batch
    normalisation by the training rows' means ``mu_l`` and standard deviations ``s_l``
    (``statistics``: one ``(mu, s)`` pair a layer) folded into its weights, as a
    trained network is used: ``relu((h W - mu) / s + beta) = relu(h (W / s) + (beta - mu / s))``,
    the top layer's scores ``gamma * ((h W - mu) / s + beta)``."""
    p = ladder_unpack(np.asarray(theta, dtype=np.float64), sizes)
    L = len(sizes) - 1
    weights, biases = [], []
    for layer, (mu, s) in enumerate(statistics, start=1):
        scale = 1.0 / s if layer < L else p["gamma"] / s
        shift = p[f"beta{layer}"] - mu / s
        weights.append(p[f"W{layer}"] * scale)
        biases.append(shift if layer < L else p["gamma"] * shift)
    return weights, biases
