"""Hand-written dense optical flow, the flow images VideoLSTM feeds its motion stream, and known-motion test pairs.

VideoLSTM (sec. 5.2) computes optical flow "from every two adjacent frames using the algorithm of [38]" (the
reference list is missing from our copy of the text; two-stream pipelines use Brox et al.'s variational warping
method or TV-L1) and stores it as a 2-channel image, horizontal and vertical flow, "linearly rescaled to
[0, 255]". This module gives tinyalstm that input without OpenCV or SciPy: NumPy (plus one small Numba loop on
the CPU, see below), and every array operation goes through ``array_module(x)``, so CuPy arrays should work too
(not tested: no GPU on the machine this was written on).

Method: pyramidal, iterative, dense Lucas-Kanade
-------------------------------------------------
Why this one rather than coarse-to-fine Horn-Schunck or Farneback (TV-L1/Brox are out of scope for a teaching
module: their solvers are long and slow in NumPy):

* Readable. Each pixel solves one 2x2 least-squares system, the brightness-constancy linearisation summed over a
  Gaussian window around it (eq. LK below). A student can hold it in their head; Farneback's polynomial expansion
  needs six basis images and a displacement-from-coefficients step that is much harder to read.
* Fast in NumPy. There is no inner iterative solver: per pyramid level the structure tensor of ``prev`` is blurred
  once, and each warp iteration costs one bilinear warp, one blur and a closed-form 2x2 solve: about 15
  whole-array operations and one compiled loop (see "How the steps run" below). Horn-Schunck's smoothness term
  spreads one pixel per Jacobi sweep, so it needs tens of sweeps per warp to couple a window's worth of pixels; by
  operation count that is several times slower (an estimate, not measured here). Pairs can be batched
  (``video_flow`` does), which amortises Python overhead.
* Accurate enough where it matters here: 0.05-0.1 px on smooth textured motion (table below).
  Its weaknesses are the textbook ones: flow is blurred across motion boundaries by the window (no
  edge-preserving regulariser as in TV-L1), occlusions are not modelled, and in textureless regions the Tikhonov
  term pulls the update towards zero instead of filling in from the neighbours as a global method would. For
  action-recognition input, a smooth 2-channel motion map, that is acceptable; for benchmark-quality flow use TV-L1.

The equations (the "inverse-additive" variant of Bouguet's pyramidal LK, gradients taken on ``prev``):

    flow convention          nxt(x + u, y + v) ~= prev(x, y)          (u: x / column, v: y / row, in pixels)
    residual after warping   I_t(p) = nxt(p + w(p)) - prev(p)          (bilinear warp, w = (u, v))
    linearisation            I_x du + I_y dv + I_t ~= 0                (I_x, I_y: 5-point derivatives of prev)
    eq. LK (per pixel)       [G_xx + lam   G_xy      ] [du]     [B_x]      G_ab = g * (I_a I_b)
                             [G_xy         G_yy + lam] [dv] = - [B_y]      B_a  = g * (I_a I_t)
                             w <- w + (du, dv), repeated ``iterations`` times per level

with ``g *`` a Gaussian window of std ``window`` pixels and ``lam = regularization * mean(G_xx + G_yy)`` (scale
free, so grayscale float input in any range behaves like uint8 input). Coarse to fine: images are blurred and
halved ``levels - 1`` times, the flow of a level is upsampled (bilinear) and doubled to initialise the next.
Pixels without evidence are left out of the window sums: the outermost ring (I_x = I_y = 0 there: the derivative
stencil reads mostly padding) and pixels whose warped position falls outside ``nxt`` (I_t = 0); they take the flow
of their window neighbours. (Fully weighted least squares, re-blurring G with the warp mask every iteration, is
~25% more accurate on 6 px motions at 64x64 and 1.6x slower; not worth it here.)

How the steps run. Every linear filter along one image axis (the Gaussian window and the presmoothing, the
derivative, the pyramid's anti-alias-and-halve, the flow upsampling) is a banded matrix, so filtering a stack
(..., H, W) along both axes is two matrix products, ``A_H^T x A_W`` (``_filter_matrix``), and BLAS does the work;
on NumPy only the band is multiplied, in blocks of 16 output samples. The one step that is not linear, the
bilinear warp inside I_t, is a gather: on NumPy arrays a small loop compiled by Numba (``_residual_loops``,
compiled on first use, ~1 s, then cached on disk) computes I_t in one pass over the pixels; on CuPy arrays the
same arithmetic runs as whole-array operations (``warp``). The tests check both forms against plain float64
references.

Measured (defaults; ``make_flow_pair``, mean endpoint error over 10 seeds; zero-flow EPE in brackets):

    112x112  translation 0.5 / 1.5 / 3 / 6 px     0.070 / 0.072 / 0.072 / 0.112 px   (0.5 / 1.5 / 3 / 6)
             rotation, zoom (max 0.5-6 px)         0.05 - 0.11 px                      (0.25 - 3.0)
             moving disk 0.5 / 1.5 / 3 / 6 px      0.028 / 0.067 / 0.130 / 0.285 px   (0.063 / 0.19 / 0.38 / 0.75)
    64x64    translation 0.5 / 1.5 / 3 / 6 px     0.072 / 0.080 / 0.086 / 0.166 px
             moving disk 0.5 / 1.5 / 3 / 6 px      0.042 / 0.110 / 0.218 / 0.504 px   (0.063 / 0.19 / 0.38 / 0.75)

On the moving disk the error sits in a +-3 px band around its edge (EPE ~1/3 of the motion there: window
straddling the boundary, occlusion); inside the disk and on the background it is < 0.1 px at 112x112, 3 px.
Throughput on a 2-core CPU shared with other jobs (one core used; NumPy 2.4 with OpenBLAS; ``flow_throughput``,
63 pairs): ``video_flow`` ~1400-2000 pairs/s at 64x64, ~600-750 at 112x112, ~100-150 at 224x224, ~90-105 at
320x240; ``optical_flow`` pair by pair ~650-1200, ~330-550, ~105-155, ~75-105. So 300 videos x 64 frames at
112x112 (18,900 pairs) take about half a minute. At 112x112 the time goes to the matrix products (~35-40%), the
warp loop (~20-25%) and the elementwise 2x2 solve (~20-25%) (cProfile).

GPU note: there is no Numba CUDA kernel for the inner loop. On CuPy every step above is a whole-array operation
(one full-matrix product per axis, gathers, elementwise math); the CuPy path has not been profiled on a GPU, so
whether flow dominates the GPU pipeline is not known.

Flow images
-----------
``flow_to_image`` clips each component to [-bound, bound] and maps it linearly to [0, 255]:
``round(255 * (f + bound) / (2 * bound))``, so value 128 ~= zero motion (exactly 127.5, rounded up) and one grey
level is ``2 * bound / 255`` pixels (0.157 px for the default bound 20, the bound of the common TV-L1 two-stream
preprocessing, e.g. the ``dense_flow`` tool used for TSN/I3D). ``image_to_flow`` inverts it up to that quantisation
(error at most half a level, ``bound / 255``, inside the bound).
"""
import functools
import time
from typing import NamedTuple

import numpy as np

from ..backend import array_module

__all__ = ["optical_flow", "video_flow", "flow_to_image", "image_to_flow", "endpoint_error", "make_flow_pair",
           "flow_throughput", "PAIR_KINDS", "DEFAULT_BOUND"]

DEFAULT_BOUND = 20.0
PAIR_KINDS = ("translation", "object", "rotation", "zoom")
_LUMA = (0.299, 0.587, 0.114)            # ITU-R BT.601, as in most RGB -> grey conversions
_BINOMIAL5 = (1 / 16, 4 / 16, 6 / 16, 4 / 16, 1 / 16)   # pyramid anti-alias filter (Burt & Adelson)
_DERIV5 = (1 / 12, -8 / 12, 0.0, 8 / 12, -1 / 12)         # f'(x) ~ (f(x-2) - 8f(x-1) + 8f(x+1) - f(x+2)) / 12


# ----------------------------------------------------------------------------------------------------------------
# Building blocks. All take stacks of grey images (..., H, W) float32 and work on NumPy or CuPy arrays alike.
# ----------------------------------------------------------------------------------------------------------------

@functools.lru_cache(maxsize=32)
def gaussian_taps(sigma):
    """Normalised 1-d Gaussian filter taps (radius ceil(2.5 sigma)) as Python floats; sigma 0 gives [1]."""
    if sigma <= 0:
        return (1.0,)
    r = max(1, int(np.ceil(2.5 * sigma)))
    t = np.exp(-0.5 * (np.arange(-r, r + 1) / sigma) ** 2)
    return tuple(float(v) for v in t / t.sum())


class _AxisMatrix(NamedTuple):
    """A linear filter along one image axis as a matrix, and the band of it that is not zero.

    A: (n, m) float32, the filter applied along the last axis as ``x @ A``; AT: A.T contiguous (m, n), applied
    along the second-to-last axis as ``AT @ x``. blocks: ((s, e, lo, hi), ...), output samples s:e read only input
    samples lo:hi (all other rows of A[:, s:e] are zero), so ``_along_x`` / ``_along_y`` multiply by those
    sub-blocks only."""
    A: object
    AT: object
    blocks: tuple


_BAND_BLOCK = 16     # output samples per sub-block on NumPy (measured best of 8-64 at 64 and 112 px)


def _axis_matrix(xp, A):
    """``_AxisMatrix`` of the numpy matrix ``A`` (n, m) on array module ``xp``. On NumPy the product is cut into
    blocks of ``_BAND_BLOCK`` output samples, each with only its band of input rows: for the 11-tap window at
    112 px that is 26 of 112 rows, ~3x less work than the full matrix. CuPy gets one block (the full product):
    a GPU runs one large GEMM better than many small ones."""
    n, m = A.shape
    step = _BAND_BLOCK if xp is np else m
    blocks = []
    for s in range(0, m, step):
        e = min(s + step, m)
        rows = np.flatnonzero(A[:, s:e].any(axis=1))
        lo, hi = (int(rows[0]), int(rows[-1]) + 1) if rows.size else (0, 1)
        blocks.append((s, e, lo, hi))
    A = A.astype(np.float32)
    return _AxisMatrix(xp.asarray(A), xp.asarray(np.ascontiguousarray(A.T)), tuple(blocks))


@functools.lru_cache(maxsize=64)
def _filter_matrix(xp, taps, n, step=1):
    """The 1-d filter ``taps`` (odd length, r = len // 2) along an axis of length n, edges replicated, keeping
    every ``step``-th output, as the (n, m) matrix A, m = ceil(n / step), of ``_AxisMatrix``:
    (x @ A)[j] = sum_k taps[k] x[clamp(step j + k - r)], clamp to [0, n - 1].

    Any linear filter along one axis is such a banded matrix, so a separable filter of an image stack is two
    matrix products and BLAS does the work; at these image sizes that beats the ~16 whole-array passes over
    shifted slices that a direct implementation makes per axis by 4-10x."""
    m = (n + step - 1) // step
    r = len(taps) // 2
    A = np.zeros((n, m))
    for j in range(m):
        for k, t in enumerate(taps):
            A[min(max(step * j + k - r, 0), n - 1), j] += t      # replicated edge: the clamped taps add up
    return _axis_matrix(xp, A)


def _along_x(x, M):
    """``x`` (..., H, W) @ M.A along the last axis (W -> M.A.shape[1]), one matrix product per band block and
    image. (Not one (N*H, W) product: that is large enough for OpenBLAS to start a second thread, which on a
    2-core CPU shared with other jobs made the 64x64 pipeline up to 5x slower.)"""
    xp = array_module(x)
    m = M.A.shape[1]
    out = xp.empty(x.shape[:-1] + (m,), dtype=np.float32)
    for s, e, lo, hi in M.blocks:
        xp.matmul(x[..., lo:hi], M.A[lo:hi, s:e], out=out[..., s:e])
    return out


def _along_y(x, M):
    """M.A^T @ ``x`` (..., H, W) along the second-to-last axis (H -> M.A.shape[1]), per band block."""
    xp = array_module(x)
    m = M.A.shape[1]
    out = xp.empty(x.shape[:-2] + (m, x.shape[-1]), dtype=np.float32)
    for s, e, lo, hi in M.blocks:
        xp.matmul(M.AT[s:e, lo:hi], x[..., lo:hi, :], out=out[..., s:e, :])
    return out


def _filter2d(x, taps, step=1):
    """``x`` (..., H, W) filtered with ``taps`` along each row and each column, edges replicated, every
    ``step``-th output kept: A_H^T x A_W, two (banded) matrix products."""
    xp = array_module(x)
    H, W = x.shape[-2:]
    return _along_y(_along_x(x, _filter_matrix(xp, taps, W, step)), _filter_matrix(xp, taps, H, step))


def blur(x, sigma):
    """Separable Gaussian blur of the last two axes of ``x`` (..., H, W), std ``sigma`` pixels, edge replicate."""
    taps = gaussian_taps(sigma)
    if len(taps) == 1:
        return x
    return _filter2d(x, taps)


def gradients(img):
    """(I_x, I_y) of ``img`` (..., H, W) by the 5-point central difference, edges replicated."""
    xp = array_module(img)
    H, W = img.shape[-2:]
    return _along_x(img, _filter_matrix(xp, _DERIV5, W)), _along_y(img, _filter_matrix(xp, _DERIV5, H))


def downsample(img):
    """Anti-alias with the 5-tap binomial filter, then keep every second row and column: (..., ceil(H/2),
    ceil(W/2)). Coarse pixel (i, j) sits on fine pixel (2i, 2j). (One matrix product per axis computes only the
    kept samples.)"""
    return _filter2d(img, _BINOMIAL5, step=2)


def bilinear_sample(img, X, Y):
    """Sample the stack ``img`` (N, H, W) at real pixel coordinates ``X`` (columns), ``Y`` (rows), both
    (N, h, w) float32, by bilinear interpolation; coordinates are clamped to the image (edge replicate)."""
    xp = array_module(img)
    N, H, W = img.shape
    X = xp.clip(X, 0, W - 1)
    Y = xp.clip(Y, 0, H - 1)
    x0 = xp.minimum(xp.floor(X), max(W - 2, 0))
    y0 = xp.minimum(xp.floor(Y), max(H - 2, 0))
    fx = (X - x0).astype(img.dtype)
    fy = (Y - y0).astype(img.dtype)
    itype = np.int32 if img.size < 2 ** 31 else np.int64                  # flat indices into the stack
    base = (xp.arange(N, dtype=itype) * (H * W)).reshape(N, 1, 1)
    idx = base + y0.astype(itype) * W + x0.astype(itype)
    flat = img.reshape(-1)
    dx = 1 if W > 1 else 0
    dy = W if H > 1 else 0
    top = flat.take(idx) * (1 - fx) + flat.take(idx + dx) * fx
    bot = flat.take(idx + dy) * (1 - fx) + flat.take(idx + dy + dx) * fx
    return top * (1 - fy) + bot * fy


def warp(img, u, v):
    """``img`` (N, H, W) resampled at (x + u, y + v): warp(nxt, u, v) ~= prev under the flow convention.
    Also returns the mask of positions that landed inside the image."""
    xp = array_module(img)
    N, H, W = img.shape
    xs = xp.arange(W, dtype=np.float32).reshape(1, 1, W)
    ys = xp.arange(H, dtype=np.float32).reshape(1, H, 1)
    X = xs + u
    Y = ys + v
    inside = (X >= 0) & (X <= W - 1) & (Y >= 0) & (Y <= H - 1)
    return bilinear_sample(img, X, Y), inside


def _residual_loops(I0, I1, u, v, It):
    """The loop form of ``warp_residual``, which Numba compiles for NumPy arrays: one pass over the pixels instead
    of the ~30 whole-array passes (clip, floor, index arithmetic, four gathers, blends) of ``warp`` + ``where``,
    4-5x faster. Writes I_t into ``It`` (N, H, W). The arithmetic is float32 and in the order of
    ``bilinear_sample``, so both forms agree to float32 rounding. Plain Python too: it can be read (and run,
    slowly) as it stands."""
    N, H, W = I1.shape
    one, right, bottom = np.float32(1), np.float32(W - 1), np.float32(H - 1)
    for n in range(N):
        for y in range(H):
            for x in range(W):
                X = np.float32(x) + u[n, y, x]
                Y = np.float32(y) + v[n, y, x]
                if X >= 0 and X <= right and Y >= 0 and Y <= bottom:       # p + w(p) inside nxt
                    x0 = min(int(X), max(W - 2, 0))          # int() floors here (X >= 0)
                    y0 = min(int(Y), max(H - 2, 0))
                    x1 = min(x0 + 1, W - 1)
                    y1 = min(y0 + 1, H - 1)
                    fx = X - np.float32(x0)
                    fy = Y - np.float32(y0)
                    top = I1[n, y0, x0] * (one - fx) + I1[n, y0, x1] * fx
                    bot = I1[n, y1, x0] * (one - fx) + I1[n, y1, x1] * fx
                    It[n, y, x] = top * (one - fy) + bot * fy - I0[n, y, x]
                else:
                    It[n, y, x] = 0


@functools.lru_cache(maxsize=1)
def _residual_numba():
    """``_residual_loops`` compiled by Numba (compiled on first use; cached on disk)."""
    import numba                      # heavy (~0.25 s): imported on first use, not with the package
    return numba.njit(cache=True)(_residual_loops)


def warp_residual(I0, I1, u, v, use_numba=None):
    """I_t(p) = nxt(p + w(p)) - prev(p) for stacks ``I0`` (prev), ``I1`` (nxt), ``u``, ``v`` (N, H, W) float32;
    0 where p + w(p) falls outside ``nxt`` (no evidence there, see ``lucas_kanade_level``).

    use_numba: None (default) runs the Numba-compiled loop ``_residual_loops`` on NumPy arrays and the array-module
    form, ``warp`` and ``where``, on CuPy arrays; True / False force one (True needs NumPy arrays). Both compute
    the same bilinear interpolation, in float32; they agree to float32 rounding."""
    xp = array_module(I0)
    if use_numba is None:
        use_numba = xp is np
    if use_numba:
        It = np.empty(I0.shape, dtype=np.float32)
        _residual_numba()(I0, I1, u, v, It)
        return It
    I1w, inside = warp(I1, u, v)
    return xp.where(inside, I1w - I0, np.float32(0))


@functools.lru_cache(maxsize=64)
def _upsample_matrix(xp, m, n):
    """Linear interpolation by 2 along an axis, m coarse samples -> n = 2m or 2m - 1 fine ones, as the (m, n)
    matrix of ``_AxisMatrix``: fine sample j sits at coarse position j / 2 (even j: a copy, odd j: the mean of the
    two neighbours, clamped at the end)."""
    U = np.zeros((m, n))
    for j in range(n):
        if j % 2:
            U[j // 2, j] += 0.5
            U[min(j // 2 + 1, m - 1), j] += 0.5
        else:
            U[j // 2, j] = 1.0
    return _axis_matrix(xp, U)


def upsample_flow(u, v, shape):
    """Flow (..., h, w) of a coarser level -> (..., H, W) of the finer one (H in {2h - 1, 2h}, same for W):
    bilinear resize (fine pixel y sits on coarse y / 2, ``_upsample_matrix``) and doubled vectors."""
    xp = array_module(u)
    (h, w), (H, W) = u.shape[-2:], shape
    up = _along_y(_along_x(xp.stack([u, v]), _upsample_matrix(xp, w, W)), _upsample_matrix(xp, h, H))
    up *= np.float32(2)
    return up[0], up[1]


def auto_levels(shape, min_size=16, max_levels=8):
    """Pyramid depth for an (H, W) image: halve while the coarsest side stays >= ``min_size`` (at most
    ``max_levels`` levels, at least 1). 112x112 -> 3 levels (112, 56, 28), 224x224 -> 4."""
    levels, side = 1, min(shape)
    while levels < max_levels and (side + 1) // 2 >= min_size:
        side = (side + 1) // 2
        levels += 1
    return levels


def lucas_kanade_level(I0, I1, u, v, iterations, window, regularization):
    """Refine the flow (u, v) (N, H, W) of one pyramid level by ``iterations`` warp-and-solve steps of eq. LK.

    Two kinds of pixel carry no evidence and are left out of the window sums: the outermost ring, where the
    5-point derivative reads mostly edge padding (its I_x, I_y are set to 0), and pixels whose warped position
    p + w(p) falls outside ``nxt`` (their I_t is set to 0). Without this, flow at the borders of large motions goes
    astray and the errors spread inwards through the windows (64x64, 6 px shifts: mean EPE 0.34 -> 0.20 px).
    """
    xp = array_module(I0)
    ring = xp.zeros(I0.shape[-2:], dtype=np.float32)
    ring[1:-1, 1:-1] = 1
    D = xp.stack(gradients(I0)) * ring                                # D[0] = I_x, D[1] = I_y: (2, N, H, W)
    G = blur(D[[0, 0, 1]] * D[[0, 1, 1]], window)                     # structure tensor G_xx, G_xy, G_yy
    lam = regularization * xp.mean(G[0] + G[2], axis=(-2, -1), keepdims=True) + np.float32(1e-12)
    a, b, c = G[0] + lam, G[1], G[2] + lam
    det = a * c - b * b
    a, b, c = a / det, b / det, c / det                               # inverse is [[c, -b], [-b, a]] / det
    for _ in range(iterations):
        It = warp_residual(I0, I1, u, v)
        B = blur(D * It, window)                                      # B_x, B_y
        u = u - (c * B[0] - b * B[1])                                 # (du, dv) = -G^-1 B
        v = v - (a * B[1] - b * B[0])
    return u, v


def flow_batch(I0, I1, levels=None, iterations=3, window=2.0, presmooth=0.8, regularization=1e-3):
    """Coarse-to-fine LK on grey stacks ``I0``, ``I1`` (N, H, W) float32 -> (u, v), each (N, H, W) float32.
    No validation: ``optical_flow`` and ``video_flow`` are the checked entry points (options documented there)."""
    xp = array_module(I0)
    if levels is None:
        levels = auto_levels(I0.shape[-2:])
    levels = min(int(levels), auto_levels(I0.shape[-2:], min_size=8))   # keep the coarsest side >= 8 px
    pyramid = [blur(xp.stack([I0, I1]), presmooth)]                      # both images filtered as one stack
    for _ in range(levels - 1):
        pyramid.append(downsample(pyramid[-1]))
    u = v = xp.zeros(pyramid[-1].shape[1:], dtype=np.float32)
    for k, level in enumerate(reversed(pyramid)):
        if k > 0:
            u, v = upsample_flow(u, v, level.shape[-2:])
        u, v = lucas_kanade_level(level[0], level[1], u, v, iterations, window, regularization)
    return u, v


# ----------------------------------------------------------------------------------------------------------------
# Public entry points (validated).
# ----------------------------------------------------------------------------------------------------------------

def _check_image(name, x, batched=False):
    """Require (H, W) or (H, W, 3) (with a leading T if ``batched``), uint8 or float, H, W >= 4."""
    if not hasattr(x, "shape") or not hasattr(x, "dtype"):
        raise ValueError(f"{name}: expected an array, got {type(x).__name__}")
    lead = 1 if batched else 0
    what = "(T, H, W, 3) or (T, H, W)" if batched else "(H, W, 3) RGB or (H, W) grey"
    if x.ndim not in (2 + lead, 3 + lead) or (x.ndim == 3 + lead and x.shape[-1] != 3):
        raise ValueError(f"{name}: expected {what}, got shape {tuple(x.shape)}")
    if batched and x.ndim == 3 and x.shape[-1] == 3:
        raise ValueError(f"{name}: expected {what}, got shape {tuple(x.shape)}, which looks like one RGB frame "
                         f"(add a leading time axis)")
    if x.dtype != np.uint8 and x.dtype.kind != "f":
        raise ValueError(f"{name}: expected dtype uint8 or a float dtype, got {x.dtype}")
    hw = x.shape[lead:lead + 2]
    if min(hw) < 4:
        raise ValueError(f"{name}: expected height and width >= 4, got shape {tuple(x.shape)}")
    if x.dtype.kind == "f":
        xp = array_module(x)
        if not bool(xp.isfinite(x).all()):
            raise ValueError(f"{name}: expected finite values, got NaN or infinite entries")
    return x


def to_gray(x, rgb):
    """Grey float32 image(s) (..., H, W) from (..., H, W, 3) RGB (``rgb`` True: BT.601 luma) or (..., H, W) grey;
    uint8 is divided by 255, floats keep their own scale (the LK regulariser is scale free)."""
    xp = array_module(x)
    g = xp.asarray(x, dtype=np.float32)
    if x.dtype == np.uint8:
        g = g * np.float32(1 / 255)
    if rgb:
        g = g[..., 0] * np.float32(_LUMA[0]) + g[..., 1] * np.float32(_LUMA[1]) + g[..., 2] * np.float32(_LUMA[2])
    return g


def _check_options(levels, iterations, window, presmooth, regularization):
    if levels is not None and (int(levels) != levels or levels < 1):
        raise ValueError(f"levels: expected None or an integer >= 1, got {levels!r}")
    if int(iterations) != iterations or iterations < 1:
        raise ValueError(f"iterations: expected an integer >= 1, got {iterations!r}")
    if not (np.isfinite(window) and window > 0):
        raise ValueError(f"window: expected a positive window std in pixels, got {window!r}")
    if not (np.isfinite(presmooth) and presmooth >= 0):
        raise ValueError(f"presmooth: expected a non-negative std in pixels, got {presmooth!r}")
    if not (np.isfinite(regularization) and regularization > 0):
        raise ValueError(f"regularization: expected a positive number, got {regularization!r}")


def optical_flow(prev, nxt, levels=None, iterations=3, window=2.0, presmooth=0.8, regularization=1e-3):
    """Dense optical flow from ``prev`` to ``nxt`` by pyramidal Lucas-Kanade (module docstring, eq. LK).

    prev, nxt: (H, W, 3) uint8 RGB (converted to BT.601 luma / 255), or (H, W) grey (uint8, or float in any
        scale), same shape and dtype; H, W >= 4. NumPy or CuPy.
    levels: pyramid levels; None picks halvings while the coarsest side stays >= 16 px (112 -> 3, 224 -> 4); an
        explicit value is capped so the coarsest side stays >= 8 px. Each level roughly doubles the largest
        displacement handled (~2 px at the coarsest level, so ~8 px with 3 levels).
    iterations: warp-and-solve steps per level (default 3). More is not better past ~3 on textured images: the
        bilinear warp smooths ``nxt`` at sub-pixel offsets, so the fixed point carries a ~0.05 px per-pixel bias
        that extra iterations converge to (measured: 0.5 px shift, float input, 1 -> 16 iterations: EPE 0.024 ->
        0.077); 2 is ~1.25x faster and as accurate below ~3 px, 4+ helps only for large motions.
    window: std in pixels of the Gaussian window the per-pixel 2x2 system is summed over (default 2.0). Larger is
        smoother and more robust to noise, smaller keeps motion boundaries sharper.
    presmooth: std in pixels of a Gaussian blur applied to both images first (default 0.8; 0 disables).
    regularization: the smoothness/stability term: lam = regularization * mean(G_xx + G_yy) is added to the
        diagonal of each pixel's 2x2 system (Tikhonov), so flat regions get small updates instead of noise.
    Returns flow (H, W, 2) float32, [..., 0] = u (x / column displacement), [..., 1] = v (y / row displacement), in
    pixels, such that nxt(x + u, y + v) ~= prev(x, y).
    """
    _check_image("prev", prev)
    _check_image("nxt", nxt)
    if tuple(nxt.shape) != tuple(prev.shape):
        raise ValueError(f"nxt: expected the shape of prev {tuple(prev.shape)}, got {tuple(nxt.shape)}")
    if nxt.dtype != prev.dtype:
        raise ValueError(f"nxt: expected the dtype of prev ({prev.dtype}), got {nxt.dtype}")
    if array_module(nxt) is not array_module(prev):
        raise ValueError(f"nxt: expected a {array_module(prev).__name__} array like prev, got {type(nxt).__name__}")
    _check_options(levels, iterations, window, presmooth, regularization)
    xp = array_module(prev)
    rgb = prev.ndim == 3
    I0 = to_gray(prev, rgb)[None]
    I1 = to_gray(nxt, rgb)[None]
    u, v = flow_batch(I0, I1, levels, int(iterations), window, presmooth, regularization)
    return xp.stack([u[0], v[0]], axis=-1)


def flow_to_image(flow, bound=DEFAULT_BOUND):
    """Quantise flow (..., 2) float to a uint8 flow image (..., 2) as VideoLSTM sec. 5.2 and two-stream nets do:
    clip each component to [-bound, bound], map linearly to [0, 255] (round to nearest). 128 ~= zero motion
    (exactly 127.5); one grey level = 2 * bound / 255 px. bound: pixels, default 20 (common TV-L1 preprocessing)."""
    if not hasattr(flow, "shape") or flow.ndim < 1 or flow.shape[-1] != 2:
        raise ValueError(f"flow: expected an array (..., 2), got shape {getattr(flow, 'shape', type(flow))}")
    if not (np.isfinite(bound) and bound > 0):
        raise ValueError(f"bound: expected a positive number of pixels, got {bound!r}")
    xp = array_module(flow)
    f = xp.clip(xp.asarray(flow, dtype=np.float32), -bound, bound)
    return xp.rint((f + np.float32(bound)) * np.float32(255 / (2 * bound))).astype(np.uint8)


def image_to_flow(image, bound=DEFAULT_BOUND):
    """Inverse of ``flow_to_image``: uint8 (..., 2) -> float32 flow (..., 2) in pixels, ``img * 2b/255 - b``;
    exact up to the quantisation (at most bound/255 px off, for flow inside [-bound, bound])."""
    if not hasattr(image, "shape") or image.ndim < 1 or image.shape[-1] != 2:
        raise ValueError(f"image: expected an array (..., 2), got shape {getattr(image, 'shape', type(image))}")
    if image.dtype != np.uint8:
        raise ValueError(f"image: expected dtype uint8, got {image.dtype}")
    if not (np.isfinite(bound) and bound > 0):
        raise ValueError(f"bound: expected a positive number of pixels, got {bound!r}")
    return image.astype(np.float32) * np.float32(2 * bound / 255) - np.float32(bound)


def endpoint_error(flow, true_flow, mask=None):
    """Mean endpoint error sqrt((u - u*)^2 + (v - v*)^2) in pixels over all pixels, or over ``mask`` (H, W) bool.
    flow, true_flow: (H, W, 2) (any leading shape, as long as both match)."""
    for name, f in (("flow", flow), ("true_flow", true_flow)):
        if not hasattr(f, "shape") or f.ndim < 2 or f.shape[-1] != 2:
            raise ValueError(f"{name}: expected an array (H, W, 2), got shape {getattr(f, 'shape', type(f))}")
    if tuple(true_flow.shape) != tuple(flow.shape):
        raise ValueError(f"true_flow: expected the shape of flow {tuple(flow.shape)}, got {tuple(true_flow.shape)}")
    xp = array_module(flow)
    d = xp.asarray(flow, dtype=np.float64) - xp.asarray(true_flow, dtype=np.float64)
    epe = xp.sqrt((d * d).sum(axis=-1))
    if mask is not None:
        if tuple(mask.shape) != tuple(flow.shape[:-1]) or mask.dtype != np.bool_:
            raise ValueError(f"mask: expected a bool array of shape {tuple(flow.shape[:-1])}, got "
                             f"{getattr(mask, 'dtype', type(mask))} {tuple(getattr(mask, 'shape', ()))}")
        if not bool(mask.any()):
            raise ValueError("mask: expected at least one True pixel, got none")
        epe = epe[mask]
    return float(epe.mean())


def video_flow(frames, bound=DEFAULT_BOUND, chunk=None, levels=None, iterations=3, window=2.0, presmooth=0.8,
               regularization=1e-3):
    """Flow images for a whole clip: frames (T, H, W, 3) uint8 (or (T, H, W) grey) -> (T, H, W, 2) uint8.

    Image t (t < T - 1) is ``flow_to_image(optical_flow(frames[t], frames[t + 1]), bound)``. The last frame has no
    successor: it gets a copy of the previous flow image (T - 2), so the clip keeps T steps, aligned with the RGB
    frames as VideoLSTM's motion stream expects; a single-frame clip gets zero motion (all 128). Pairs are computed
    ``chunk`` at a time as one batch (same result as pair by pair): fewer, larger NumPy calls amortise Python
    overhead, but past ~10^5 pixels per batch the arrays fall out of cache, so None picks ``2**16 // (H * W)``
    pairs (5 at 112x112, 1 from 224x224 up; measured best on a 2-core CPU: 4-8 pairs at 112, 1-2 at 224).
    The other options are optical_flow's.
    """
    _check_image("frames", frames, batched=True)
    _check_options(levels, iterations, window, presmooth, regularization)
    T, H, W = frames.shape[:3]
    if T < 1:
        raise ValueError(f"frames: expected at least one frame, got shape {tuple(frames.shape)}")
    if chunk is None:
        chunk = max(1, 2 ** 16 // (H * W))
    if int(chunk) != chunk or chunk < 1:
        raise ValueError(f"chunk: expected None or an integer >= 1, got {chunk!r}")
    xp = array_module(frames)
    out = xp.empty((T, H, W, 2), dtype=np.uint8)
    if T == 1:
        out[...] = flow_to_image(xp.zeros((1, 1, 2), dtype=np.float32), bound)
        return out
    rgb = frames.ndim == 4
    for s in range(0, T - 1, int(chunk)):
        e = min(s + int(chunk), T - 1)
        g = to_gray(frames[s:e + 1], rgb)
        u, v = flow_batch(g[:-1], g[1:], levels, int(iterations), window, presmooth, regularization)
        out[s:e] = flow_to_image(xp.stack([u, v], axis=-1), bound)
    out[T - 1] = out[T - 2]
    return out


# ----------------------------------------------------------------------------------------------------------------
# Known-motion image pairs and throughput.
# ----------------------------------------------------------------------------------------------------------------

def _random_texture(rng, n=24, wavelengths=(6.0, 40.0)):
    """A smooth random texture: a sum of ``n`` plane cosines, random orientation and phase, wavelength log-uniform
    in ``wavelengths`` px, amplitude proportional to wavelength (roughly 1/f, like natural images), normalised to a
    std of about 0.16 around 0.5. Returns a function (X, Y) -> values in [0, 1] at real coordinates, so both frames
    of a pair sample the same continuous image exactly (no interpolation error in the ground truth)."""
    lam = np.exp(rng.uniform(np.log(wavelengths[0]), np.log(wavelengths[1]), n))
    theta = rng.uniform(0, np.pi, n)
    phase = rng.uniform(0, 2 * np.pi, n)
    amp = lam / np.sqrt(0.5 * np.sum(lam ** 2)) * 0.16
    kx, ky = 2 * np.pi * np.cos(theta) / lam, 2 * np.pi * np.sin(theta) / lam

    def tex(X, Y):
        out = np.full(np.broadcast(X, Y).shape, 0.5)
        for i in range(n):
            out += amp[i] * np.cos(kx[i] * X + ky[i] * Y + phase[i])
        return np.clip(out, 0.0, 1.0)
    return tex


def _to_rgb8(grey, chroma):
    """Two textures -> uint8 RGB; luma is dominated by ``grey`` but every channel carries texture."""
    rgb = np.stack([0.8 * grey + 0.2 * chroma, grey, 0.7 * grey + 0.3 * (1 - chroma)], axis=-1)
    return np.rint(np.clip(rgb, 0, 1) * 255).astype(np.uint8)


def make_flow_pair(kind, size=64, rng=None, magnitude=1.5, angle=None):
    """A frame pair with known motion: (prev, nxt, true_flow), prev/nxt (H, W, 3) uint8, true_flow (H, W, 2)
    float32 with nxt(p + true_flow(p)) = prev(p) exactly for the continuous textures (then rounded to uint8).

    kind: 'translation' — the whole textured image moves by ``magnitude`` px (sub-pixel allowed) in direction
            ``angle`` (radians, 0 = +x / right, pi/2 = +y / down; None: random from rng); 0 gives a static pair.
          'object' — a textured disk (radius ~size/5, soft anti-aliased edge) moves by ``magnitude`` px in
            direction ``angle`` over a static textured background; true flow is the motion inside the disk of
            prev and 0 elsewhere (the background it uncovers/covers keeps flow 0: occlusion, not motion).
          'rotation' — rotation about a point near the centre, angle chosen so the largest displacement (at the
            farthest corner) is ``magnitude`` px; sign random.
          'zoom' — scaling about a point near the centre, largest displacement ``magnitude`` px; in or out random.
    size: int (square) or (H, W). rng: np.random.Generator (None: a fresh default_rng(0)).
    """
    if kind not in PAIR_KINDS:
        raise ValueError(f"kind: expected one of {PAIR_KINDS}, got {kind!r}")
    H, W = (size, size) if np.isscalar(size) else tuple(size)
    if min(H, W) < 8:
        raise ValueError(f"size: expected height and width >= 8, got {size!r}")
    if not (np.isfinite(magnitude) and magnitude >= 0):
        raise ValueError(f"magnitude: expected a non-negative number of pixels, got {magnitude!r}")
    if rng is None:
        rng = np.random.default_rng(0)
    if angle is None:
        angle = rng.uniform(0, 2 * np.pi)
    Y, X = np.mgrid[0:H, 0:W].astype(np.float64)
    tex, chroma = _random_texture(rng), _random_texture(rng)
    d = magnitude * np.array([np.cos(angle), np.sin(angle)])
    d[np.abs(d) < 1e-9] = 0.0                 # cos(pi / 2) is 6e-17: keep axis-aligned integer shifts exact
    flow = np.zeros((H, W, 2))
    if kind == "translation":
        prev = _to_rgb8(tex(X, Y), chroma(X, Y))
        nxt = _to_rgb8(tex(X - d[0], Y - d[1]), chroma(X - d[0], Y - d[1]))
        flow[...] = d
    elif kind == "object":
        otex, ochroma = _random_texture(rng, wavelengths=(4.0, 20.0)), _random_texture(rng)
        r = min(H, W) / 5
        cx, cy = W / 2 + rng.uniform(-0.1, 0.1) * W, H / 2 + rng.uniform(-0.1, 0.1) * H

        def frame(ox, oy):       # object centre (ox, oy); object texture lives in object coordinates
            alpha = np.clip(r - np.hypot(X - ox, Y - oy) + 0.5, 0, 1)
            g = alpha * otex(X - ox, Y - oy) + (1 - alpha) * tex(X, Y)
            c = alpha * ochroma(X - ox, Y - oy) + (1 - alpha) * chroma(X, Y)
            return _to_rgb8(g, c), alpha
        prev, alpha = frame(cx, cy)
        nxt, _ = frame(cx + d[0], cy + d[1])
        flow[alpha >= 0.5] = d
    else:
        cx, cy = W / 2 + rng.uniform(-0.1, 0.1) * W, H / 2 + rng.uniform(-0.1, 0.1) * H
        rmax = max(np.hypot(px - cx, py - cy) for px in (0, W - 1) for py in (0, H - 1))
        if kind == "rotation":
            th = 2 * np.arcsin(min(1.0, magnitude / (2 * rmax))) * rng.choice([-1, 1])
            A = np.array([[np.cos(th), -np.sin(th)], [np.sin(th), np.cos(th)]])
        else:
            A = np.eye(2) * (1 + magnitude / rmax * rng.choice([-1, 1]))
        # motion p -> c + A (p - c); nxt(q) = prev(c + A^-1 (q - c))
        Ai = np.linalg.inv(A)
        Xs = cx + Ai[0, 0] * (X - cx) + Ai[0, 1] * (Y - cy)
        Ys = cy + Ai[1, 0] * (X - cx) + Ai[1, 1] * (Y - cy)
        prev = _to_rgb8(tex(X, Y), chroma(X, Y))
        nxt = _to_rgb8(tex(Xs, Ys), chroma(Xs, Ys))
        flow[..., 0] = cx + A[0, 0] * (X - cx) + A[0, 1] * (Y - cy) - X
        flow[..., 1] = cy + A[1, 0] * (X - cx) + A[1, 1] * (Y - cy) - Y
    return prev, nxt, flow.astype(np.float32)


def flow_throughput(size=112, n=64, batched=True, xp=np, **options):
    """Frame pairs per second of flow on ``size`` (int or (H, W)) uint8 RGB frames of a smooth random texture
    sliding by (1.3, 0.7) px per frame: ``n`` pairs, computed as one clip through ``video_flow`` (``batched``, its
    default chunks) or pair by pair through ``optical_flow``; includes the RGB->grey conversion and, batched, the
    flow-image quantisation. One warm-up pair is run first (not timed). ``xp``: numpy or cupy (the frames are moved
    there; cupy is synchronised). ``options``: optical_flow's. Frame generation is not timed."""
    H, W = (size, size) if np.isscalar(size) else tuple(size)
    rng = np.random.default_rng(0)
    tex, chroma = _random_texture(rng), _random_texture(rng)
    frames = []
    for t in range(n + 1):
        Y, X = np.mgrid[0:H, 0:W].astype(np.float64)
        X, Y = X - 1.3 * t, Y - 0.7 * t
        frames.append(_to_rgb8(tex(X, Y), chroma(X, Y)))
    frames = xp.asarray(np.stack(frames))

    def sync():
        if xp is not np:
            xp.cuda.Stream.null.synchronize()
    optical_flow(frames[0], frames[1], **options)
    sync()
    t0 = time.perf_counter()
    if batched:
        video_flow(frames, **options)
    else:
        for t in range(n):
            optical_flow(frames[t], frames[t + 1], **options)
    sync()
    return n / (time.perf_counter() - t0)
