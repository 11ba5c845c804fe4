"""Optical flow (tinyalstm.data.flow): accuracy on frame pairs with known motion, the flow-image quantisation of
VideoLSTM sec. 5.2, whole-clip flow, and input validation.

Expected values come from the motion the pairs were made with, never from the code under test. EPE thresholds:
the worst mean endpoint error over 40 seeds of each pair kind was measured (0.12 px for translations up to 3 px and
for rotation/zoom at 64x64, 0.23 px for 6 px at 112x112, object/zero-flow ratio 0.45 at 112x112, 3 px); each
threshold sits above that worst case and far below what a real bug gives: a sign error costs 2|d|, a missing
doubling between pyramid levels ~|d|/2, no motion found at all exactly |d| (the zero-flow baseline).
"""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tinyalstm.data.flow import (blur, downsample, endpoint_error, flow_to_image, gradients, image_to_flow,
                                 make_flow_pair, optical_flow, upsample_flow, video_flow, warp_residual)


def _zero_epe(true_flow):
    return endpoint_error(np.zeros_like(true_flow), true_flow)


def _texture(seed, n=12):
    """Independent of tinyalstm.data.flow: a smooth random texture, (x, y) -> grey in [0, 1] at real coordinates, a sum
    of plane cosines (wavelengths 6-30 px), so shifted frames are exact."""
    r = np.random.default_rng(seed)
    waves = [(r.uniform(6, 30), r.uniform(0, np.pi), r.uniform(0, 2 * np.pi)) for _ in range(n)]

    def tex(x, y):
        s = sum(np.cos(2 * np.pi * (np.cos(th) * x + np.sin(th) * y) / lam + ph) for lam, th, ph in waves)
        return np.clip(0.5 + 0.15 * s / np.sqrt(n / 2), 0, 1)
    return tex


def _rgb8(grey):
    return np.repeat(np.rint(grey * 255).astype(np.uint8)[..., None], 3, axis=-1)


_Y, _X = np.mgrid[0:64, 0:64].astype(np.float64)


# ----------------------------------------------------------------------------------------------------------------
# The generated pairs themselves: true_flow must describe nxt(p + flow(p)) = prev(p).
# ----------------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("angle, shift", [(0.0, (0, 2)), (np.pi / 2, (3, 0)), (np.pi, (0, -1))])
def test_generated_integer_translation_is_exact(angle, shift):
    dy, dx = shift
    mag = abs(dx) + abs(dy)
    prev, nxt, flow = make_flow_pair("translation", (40, 48), np.random.default_rng(3), magnitude=mag, angle=angle)
    assert prev.shape == nxt.shape == (40, 48, 3) and prev.dtype == nxt.dtype == np.uint8
    assert flow.shape == (40, 48, 2) and flow.dtype == np.float32
    np.testing.assert_array_equal(flow[..., 0], dx)
    np.testing.assert_array_equal(flow[..., 1], dy)
    H, W = 40, 48
    src = prev[max(0, -dy):H - max(0, dy), max(0, -dx):W - max(0, dx)]
    dst = nxt[max(0, dy):H - max(0, -dy), max(0, dx):W - max(0, -dx)]
    np.testing.assert_array_equal(dst, src)            # nxt(p + d) == prev(p), pixel for pixel
    assert prev.std() > 20                             # textured, not flat


def test_generated_object_flow_covers_the_object_only():
    prev, nxt, flow = make_flow_pair("object", 64, np.random.default_rng(1), magnitude=2.0, angle=0.0)
    moving = flow[..., 0] != 0
    assert 0.08 < moving.mean() < 0.2                  # disk of radius 64/5: pi * 12.8^2 / 64^2 = 0.126
    np.testing.assert_array_equal(flow[moving], np.tile([2.0, 0.0], (int(moving.sum()), 1)))
    np.testing.assert_array_equal(flow[~moving], 0.0)
    rows, cols = np.nonzero(moving)
    r, c = int(np.median(rows)), int(np.median(cols))   # the disk's centre: its texture moved right by 2
    np.testing.assert_array_equal(nxt[r - 5:r + 5, c - 3:c + 7], prev[r - 5:r + 5, c - 5:c + 5])


def _bilinear(img, x, y):
    """img (H, W) at real coordinates (x, y), bilinear; written here so the check does not use tinyalstm.data.flow."""
    x0 = np.clip(np.floor(x).astype(int), 0, img.shape[1] - 2)
    y0 = np.clip(np.floor(y).astype(int), 0, img.shape[0] - 2)
    fx, fy = x - x0, y - y0
    return ((1 - fy) * ((1 - fx) * img[y0, x0] + fx * img[y0, x0 + 1])
            + fy * ((1 - fx) * img[y0 + 1, x0] + fx * img[y0 + 1, x0 + 1]))


@pytest.mark.parametrize("kind", ["translation", "rotation", "zoom"])
def test_generated_smooth_fields_match_their_frames(kind):
    """nxt sampled at p + true_flow(p) reproduces prev to within interpolation and uint8 rounding (~0.4 grey
    levels measured), while the frames themselves differ by 6-16 levels."""
    prev, nxt, flow = make_flow_pair(kind, 64, np.random.default_rng(4), magnitude=3.0)
    g0, g1 = prev.mean(-1), nxt.mean(-1)
    y, x = np.mgrid[0:64, 0:64].astype(np.float64)
    inner = (slice(6, -6), slice(6, -6))
    aligned = np.abs(_bilinear(g1, x + flow[..., 0], y + flow[..., 1]) - g0)[inner].mean()
    still = np.abs(g1 - g0)[inner].mean()
    assert aligned < 1.0 and aligned < 0.1 * still


# ----------------------------------------------------------------------------------------------------------------
# Accuracy on known motion.
# ----------------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("size, magnitude, max_epe", [
    (64, 0.5, 0.15), (64, 1.5, 0.15), (64, 3.0, 0.15),   # sub-pixel and small: worst of 40 seeds 0.12 px
    (112, 6.0, 0.30),                                    # needs all 3 pyramid levels; worst of 40 seeds 0.23 px
])
def test_translation_epe(size, magnitude, max_epe):
    for seed in (0, 1):
        prev, nxt, true_flow = make_flow_pair("translation", size, np.random.default_rng(seed), magnitude=magnitude)
        flow = optical_flow(prev, nxt)
        assert flow.shape == (size, size, 2) and flow.dtype == np.float32
        epe = endpoint_error(flow, true_flow)
        assert epe < max_epe, f"seed {seed}: EPE {epe:.3f} px for a {magnitude} px shift"
        assert epe < 0.3 * _zero_epe(true_flow)


@pytest.mark.parametrize("kind", ["rotation", "zoom"])
def test_smooth_field_epe(kind):
    prev, nxt, true_flow = make_flow_pair(kind, 64, np.random.default_rng(2), magnitude=3.0)
    epe = endpoint_error(optical_flow(prev, nxt), true_flow)
    assert epe < 0.15, f"EPE {epe:.3f} px"                                  # worst of 40 seeds: 0.13 px
    assert epe < 0.15 * _zero_epe(true_flow)                                # zero-flow EPE here: 1.5 px


def test_moving_object_beats_zero_flow():
    prev, nxt, true_flow = make_flow_pair("object", 112, np.random.default_rng(0), magnitude=3.0)
    flow = optical_flow(prev, nxt)
    epe, zero = endpoint_error(flow, true_flow), _zero_epe(true_flow)
    assert epe < 0.5 * zero, f"EPE {epe:.3f} px vs zero flow {zero:.3f} px"   # worst of 40 seeds: 0.45x
    moving = np.abs(true_flow).sum(-1) > 0
    core = moving.copy()                                # the disk shrunk by 5 px: away from the motion boundary
    for axis in (0, 1):
        for s in (-5, 5):
            core &= np.roll(moving, s, axis=axis)
    assert core.sum() > 100
    assert endpoint_error(flow, true_flow, core) < 0.2
    far = ~moving                                       # background 8 px from the disk (either frame)
    for axis in (0, 1):
        for s in range(-8, 9, 2):
            far &= ~np.roll(moving, s, axis=axis)
    assert endpoint_error(flow, true_flow, far) < 0.1


@pytest.mark.parametrize("dx, dy", [(2, 0), (-2, 0), (0, 2), (0, -2)])
def test_sign_convention_object_moving(dx, dy):
    """A textured square pasted 2 px further right (down) in nxt: u (v) is +2 inside it; left (up): -2."""
    bg, obj = _texture(10)(_X, _Y), _texture(11)
    prev, nxt = bg.copy(), bg.copy()
    prev[20:44, 20:44] = obj(_X, _Y)[20:44, 20:44]
    nxt[20 + dy:44 + dy, 20 + dx:44 + dx] = obj(_X - dx, _Y - dy)[20 + dy:44 + dy, 20 + dx:44 + dx]
    flow = optical_flow(_rgb8(prev), _rgb8(nxt))
    inner = flow[26:38, 26:38]                          # 6 px inside the square
    np.testing.assert_allclose(np.median(inner[..., 0]), dx, atol=0.25)
    np.testing.assert_allclose(np.median(inner[..., 1]), dy, atol=0.25)
    corner = flow[:10, :10]                             # static background far from the square
    assert np.abs(corner).max() < 0.25


def test_zero_motion_gives_zero_flow():
    prev, _, _ = make_flow_pair("translation", 48, np.random.default_rng(5), magnitude=0.0)
    assert np.abs(optical_flow(prev, prev)).max() == 0.0      # identical frames: I_t = 0 everywhere
    noisy = np.clip(prev.astype(int) + np.random.default_rng(6).integers(-2, 3, prev.shape), 0, 255).astype(np.uint8)
    flow = optical_flow(prev, noisy)                          # +-2 grey levels of independent noise
    assert endpoint_error(flow, np.zeros_like(flow)) < 0.1


def test_flat_images_give_zero_flow_not_nan():
    flat = np.full((32, 32, 3), 90, np.uint8)
    flow = optical_flow(flat, flat.copy())
    assert np.isfinite(flow).all() and np.abs(flow).max() == 0.0


@pytest.mark.parametrize("scale", [1.0, 1000.0])
def test_grey_float_input_any_scale(scale):
    prev, nxt, true_flow = make_flow_pair("translation", 64, np.random.default_rng(7), magnitude=1.5)
    luma = np.array([0.299, 0.587, 0.114])
    g0, g1 = (prev / 255.0 @ luma) * scale, (nxt / 255.0 @ luma) * scale
    assert endpoint_error(optical_flow(g0, g1), true_flow) < 0.15


# ----------------------------------------------------------------------------------------------------------------
# Flow images (VideoLSTM sec. 5.2): clip to [-bound, bound], rescale linearly to [0, 255].
# ----------------------------------------------------------------------------------------------------------------

def test_flow_to_image_known_values():
    f = np.array([[0.0, 20.0], [-20.0, 10.0], [25.0, -100.0], [-10.0, 20 / 255]], np.float32)
    img = flow_to_image(f)                      # 255 * (f + 20) / 40, rounded; clipped first
    assert img.dtype == np.uint8
    np.testing.assert_array_equal(img, [[128, 255], [0, 191], [255, 0], [64, 128]])
    np.testing.assert_array_equal(flow_to_image(np.array([1.0, -1.0]), bound=1.0), [255, 0])


@settings(max_examples=8)
@given(bound=st.floats(1.0, 40.0), seed=st.integers(0, 2 ** 16))
def test_flow_image_round_trip_within_quantisation(bound, seed):
    f = np.random.default_rng(seed).uniform(-bound, bound, size=(6, 7, 2)).astype(np.float32)
    back = image_to_flow(flow_to_image(f, bound), bound)
    assert back.dtype == np.float32
    assert np.abs(back - f).max() <= bound / 255 * (1 + 1e-4)      # half of one grey level (2 * bound / 255)


def test_flow_image_clips_at_the_bound():
    f = np.array([[30.0, -30.0], [5.0, -5.0]], np.float32)
    for bound in (20.0, 5.0):
        back = image_to_flow(flow_to_image(f, bound), bound)
        np.testing.assert_allclose(back, np.clip(f, -bound, bound), atol=bound / 255 + 1e-6)
    np.testing.assert_array_equal(flow_to_image(f, 5.0), [[255, 0], [255, 0]])


# ----------------------------------------------------------------------------------------------------------------
# Building blocks against straightforward float64 references written here: the filters run as (banded) matrix
# products and the warp residual as a compiled loop, so each is checked against the plain definition. Sizes up to
# 40 px cover several band blocks with a ragged last one. float32 against float64: outputs are O(1), so 1e-6
# (filters) and 1e-5 (bilinear: float32 coordinates, gradients up to ~1 per px) are a few float32 roundings.
# ----------------------------------------------------------------------------------------------------------------

def _correlate_ref(x, taps, axis):
    """out[i] = sum_k taps[k] x[clamp(i + k - r, 0, n - 1)] along ``axis``, in float64, loop over outputs."""
    xm = np.moveaxis(np.asarray(x, np.float64), axis, -1)
    n, r = xm.shape[-1], len(taps) // 2
    out = np.zeros_like(xm)
    for i in range(n):
        for k, t in enumerate(taps):
            out[..., i] += t * xm[..., min(max(i + k - r, 0), n - 1)]
    return np.moveaxis(out, -1, axis)


def _gaussian_ref(sigma):
    r = int(np.ceil(2.5 * sigma))
    g = np.exp(-0.5 * (np.arange(-r, r + 1) / sigma) ** 2)
    return g / g.sum()


@settings(max_examples=10, deadline=None)
@given(n=st.integers(1, 3), h=st.integers(4, 40), w=st.integers(4, 40), sigma=st.sampled_from([0.8, 2.0]),
       seed=st.integers(0, 2 ** 16))
def test_filters_match_direct_correlation(n, h, w, sigma, seed):
    x = np.random.default_rng(seed).random((2, n, h, w)).astype(np.float32)   # a stack of stacks, as blurred
    g = _gaussian_ref(sigma)
    out = blur(x, sigma)
    assert out.shape == x.shape and out.dtype == np.float32
    np.testing.assert_allclose(out, _correlate_ref(_correlate_ref(x, g, -1), g, -2), atol=1e-6)
    d5 = np.array([1, -8, 0, 8, -1]) / 12                                     # 5-point central difference
    Ix, Iy = gradients(x[0])
    np.testing.assert_allclose(Ix, _correlate_ref(x[0], d5, -1), atol=1e-6)
    np.testing.assert_allclose(Iy, _correlate_ref(x[0], d5, -2), atol=1e-6)
    b5 = np.array([1, 4, 6, 4, 1]) / 16                                       # binomial, then every second pixel
    small = downsample(x)
    assert small.shape == (2, n, (h + 1) // 2, (w + 1) // 2)
    np.testing.assert_allclose(small, _correlate_ref(_correlate_ref(x, b5, -1), b5, -2)[..., ::2, ::2], atol=1e-6)


def test_blur_at_pipeline_size_matches_direct_correlation():
    x = np.random.default_rng(8).random((3, 112, 112)).astype(np.float32)
    g = _gaussian_ref(2.0)
    np.testing.assert_allclose(blur(x, 2.0), _correlate_ref(_correlate_ref(x, g, -1), g, -2), atol=1e-6)


@pytest.mark.parametrize("coarse, fine", [((5, 7), (10, 13)), ((20, 17), (39, 34))])
def test_upsample_flow_is_bilinear_and_doubled(coarse, fine):
    rng = np.random.default_rng(9)
    u, v = rng.normal(size=(2, 2) + coarse).astype(np.float32)
    (h, w), (H, W) = coarse, fine

    def resize(f):                     # fine pixel j sits at coarse j / 2; np.interp holds the end value beyond
        rows = np.array([[np.interp(np.arange(W) / 2, np.arange(w), row) for row in img] for img in f])
        return np.array([[np.interp(np.arange(H) / 2, np.arange(h), col) for col in img.T] for img in rows]
                        ).transpose(0, 2, 1)
    U, V = upsample_flow(u, v, fine)
    assert U.shape == V.shape == (2, H, W)
    np.testing.assert_allclose(U, 2 * resize(u), atol=1e-5)
    np.testing.assert_allclose(V, 2 * resize(v), atol=1e-5)


@pytest.mark.parametrize("use_numba", [True, False])
def test_warp_residual_matches_bilinear_reference(use_numba):
    """I_t = nxt(p + w(p)) - prev(p), 0 where p + w(p) leaves nxt; the compiled loop (NumPy default) and the
    array-module form (CuPy's) both."""
    rng = np.random.default_rng(10)
    N, H, W = 2, 23, 37
    I0, I1 = rng.random((2, N, H, W)).astype(np.float32)
    u, v = rng.uniform(-4, 4, (2, N, H, W)).astype(np.float32)
    y, x = np.mgrid[0:H, 0:W].astype(np.float64)
    X, Y = x + u.astype(np.float64), y + v.astype(np.float64)
    inside = (X >= 0) & (X <= W - 1) & (Y >= 0) & (Y <= H - 1)
    assert 0.3 < inside.mean() < 0.9                   # both cases occur
    ref = np.where(inside, np.array([_bilinear(I1[n], X[n], Y[n]) for n in range(N)]) - I0, 0.0)
    It = warp_residual(I0, I1, u, v, use_numba=use_numba)
    assert It.shape == (N, H, W) and It.dtype == np.float32
    np.testing.assert_allclose(It, ref, atol=1e-5)
    np.testing.assert_array_equal(It[~inside], 0.0)


# ----------------------------------------------------------------------------------------------------------------
# Whole clips.
# ----------------------------------------------------------------------------------------------------------------

def test_video_flow_shape_dtype_and_motion():
    """A texture sliding 1 px right and 0.5 px down per frame: every flow image decodes to (1, 0.5)."""
    T, H, W = 5, 40, 48
    tex = _texture(12)
    y, x = np.mgrid[0:H, 0:W].astype(np.float64)
    frames = np.stack([_rgb8(tex(x - 1.0 * t, y - 0.5 * t)) for t in range(T)])
    imgs = video_flow(frames)
    assert imgs.shape == (T, H, W, 2) and imgs.dtype == np.uint8
    np.testing.assert_array_equal(imgs[-1], imgs[-2])  # last frame repeats the previous flow
    truth = np.broadcast_to(np.float32([1.0, 0.5]), (H, W, 2))
    inner = np.zeros((H, W), bool)
    inner[4:-4, 4:-4] = True
    for t in range(T):
        assert endpoint_error(image_to_flow(imgs[t]), truth, inner) < 0.2
    for t in range(T - 1):                              # batched clip == pair by pair
        np.testing.assert_array_equal(imgs[t], flow_to_image(optical_flow(frames[t], frames[t + 1])))
    np.testing.assert_array_equal(video_flow(frames, chunk=3), imgs)   # a ragged last chunk changes nothing


def test_video_flow_single_frame_is_zero_motion():
    imgs = video_flow(np.zeros((1, 16, 16, 3), np.uint8), bound=20)
    assert imgs.shape == (1, 16, 16, 2)
    np.testing.assert_array_equal(imgs, 128)            # 127.5 rounds to 128


# ----------------------------------------------------------------------------------------------------------------
# Validation at the entry points: ValueError naming the argument.
# ----------------------------------------------------------------------------------------------------------------

_img = np.zeros((16, 16, 3), np.uint8)


@pytest.mark.parametrize("call, pattern", [
    (lambda: optical_flow(_img, np.zeros((16, 18, 3), np.uint8)), r"nxt: expected the shape of prev"),
    (lambda: optical_flow(_img.astype(np.int32), _img), r"prev: expected dtype uint8 or a float dtype, got int32"),
    (lambda: optical_flow(_img, _img.astype(np.float32)), r"nxt: expected the dtype of prev"),
    (lambda: optical_flow(_img[None], _img[None]), r"prev: expected \(H, W, 3\) RGB or \(H, W\) grey"),
    (lambda: optical_flow(np.zeros((16, 16, 4), np.uint8), _img), r"prev: expected \(H, W, 3\)"),
    (lambda: optical_flow(_img, np.zeros(16, np.uint8)), r"nxt: expected \(H, W, 3\)"),
    (lambda: optical_flow(_img[:3], _img[:3]), r"prev: expected height and width >= 4"),
    (lambda: optical_flow(np.full((8, 8), np.nan), np.zeros((8, 8))), r"prev: expected finite values"),
    (lambda: optical_flow(_img, _img, iterations=0), r"iterations: expected an integer >= 1"),
    (lambda: optical_flow(_img, _img, window=-1.0), r"window: expected a positive"),
    (lambda: optical_flow(_img, _img, levels=0), r"levels: expected None or an integer >= 1"),
    (lambda: video_flow(_img), r"frames: expected \(T, H, W, 3\) or \(T, H, W\)"),
    (lambda: video_flow(_img[None].astype(np.int16)), r"frames: expected dtype uint8"),
    (lambda: video_flow(np.zeros((0, 8, 8, 3), np.uint8)), r"frames: expected at least one frame"),
    (lambda: flow_to_image(np.zeros((4, 4, 3))), r"flow: expected an array \(\.\.\., 2\)"),
    (lambda: flow_to_image(np.zeros((4, 4, 2)), bound=0), r"bound: expected a positive"),
    (lambda: image_to_flow(np.zeros((4, 4, 2))), r"image: expected dtype uint8, got float64"),
    (lambda: endpoint_error(np.zeros((4, 4, 2)), np.zeros((4, 5, 2))), r"true_flow: expected the shape of flow"),
    (lambda: endpoint_error(np.zeros((4, 4)), np.zeros((4, 4))), r"flow: expected an array \(H, W, 2\)"),
    (lambda: endpoint_error(np.zeros((4, 4, 2)), np.zeros((4, 4, 2)), np.ones((4, 4))), r"mask: expected a bool"),
    (lambda: make_flow_pair("shear", 16), r"kind: expected one of"),
    (lambda: make_flow_pair("zoom", 16, magnitude=-1.0), r"magnitude: expected a non-negative"),
])
def test_validation(call, pattern):
    with pytest.raises(ValueError, match=pattern):
        call()


def test_endpoint_error_known_values():
    true = np.zeros((3, 4, 2))
    est = np.zeros((3, 4, 2))
    est[..., 0], est[..., 1] = 3.0, 4.0                 # a 3-4-5 triangle at every pixel
    assert endpoint_error(est, true) == pytest.approx(5.0)
    est[0] = 0.0
    mask = np.zeros((3, 4), bool)
    mask[0] = True
    assert endpoint_error(est, true, mask) == 0.0
    assert endpoint_error(est, true) == pytest.approx(5.0 * 8 / 12)
