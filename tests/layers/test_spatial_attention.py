"""Spatial softmax attention (VideoLSTM eqs. 7-9): library vs reference/, finite differences with 1x1 (authors'
code) and 3x3 (paper) attention kernels, map sizes 1..5, and the softmax's properties."""
import numpy as np
from hypothesis import given, strategies as st

from tinyalstm import reference as ref
from tinyalstm.layers.spatial_attention import spatial_attention_backward, spatial_attention_forward

from opcheck import check_op      # forward vs reference/, backward vs finite differences


small = st.integers(1, 3)


def _params(r, C, K, Ka, k, kz):
    return {"Wxa": r.normal(size=(Ka, C, k, k)), "Wha": r.normal(size=(Ka, K, k, k)), "ba": r.normal(size=Ka),
            "Wz": r.normal(size=(1, Ka, kz, kz))}


@given(B=small, C=small, K=small, Ka=small, n=st.integers(1, 5), k=st.sampled_from([1, 3]),
       kz=st.sampled_from([1, 3]), seed=st.integers(0, 2**31))
def test_spatial_attention(B, C, K, Ka, n, k, kz, seed):
    r = np.random.default_rng(seed)
    x, h = r.normal(size=(B, C, n, n)), r.normal(size=(B, K, n, n))
    p = _params(r, C, K, Ka, k, kz)
    _, a, _ = spatial_attention_forward(x, h, *p.values())
    np.testing.assert_allclose(a.sum(axis=(1, 2)), 1.0, atol=1e-12)
    check_op("spatial_attention (VideoLSTM eqs. 7-9)", spatial_attention_forward, spatial_attention_backward,
             {"x": x, "h": h, **p}, r, reference=ref.spatial_attention)


def test_zero_score_kernel_gives_uniform_attention():
    r = np.random.default_rng(0)
    x, h = r.normal(size=(2, 3, 4, 4)), r.normal(size=(2, 2, 4, 4))
    p = _params(r, 3, 2, 5, 1, 1)
    p["Wz"][:] = 0.0
    xt, a, _ = spatial_attention_forward(x, h, *p.values())
    np.testing.assert_allclose(a, 1 / 16, atol=1e-15)
    np.testing.assert_allclose(xt, x / 16, atol=1e-15)
