"""The gate convolution alone on the GPU: our implicit-GEMM Numba kernel (kernels/conv2d.py) against cuBLAS SGEMM
of the same GEMM, the ceiling a convolution written as one matrix product can reach.

At VideoLSTM's paper size the recurrent gate convolution W_h * H_{t-1} is, as a GEMM, (4K) x (K k k) by
(K k k) x (B N N): 2048 x 4608 by 4608 x 1568 for K = 512, k = 3, B = 32, N = 7. ``compare`` times our forward
kernel on (B, K, N, N) maps and ``cupy.matmul`` (cuBLAS) on matrices of exactly that GEMM's shape, each the median
of ``repeats`` runs after a warm-up, the device synchronised around every run, and returns both with their
GFLOP/s. Only ``.ci/gpu`` calls it; it needs CuPy and a GPU.
"""
from .training_step import median_time


def compare(batch=32, channels=512, size=7, out_channels=2048, kernel=3, repeats=20, dtype="float32"):
    """-> dict with the GEMM shape, our kernel's and cuBLAS's seconds and GFLOP/s, and ours / cuBLAS."""
    import cupy

    from ..kernels import conv2d as gpu
    rng = cupy.random.default_rng(0)
    x = rng.random((batch, channels, size, size), dtype=dtype)
    w = rng.random((out_channels, channels, kernel, kernel), dtype=dtype)
    b = cupy.zeros(out_channels, dtype=dtype)
    rows, inner, cols = out_channels, channels * kernel * kernel, batch * size * size
    a_mat = rng.random((rows, inner), dtype=dtype)
    b_mat = rng.random((inner, cols), dtype=dtype)
    sync = cupy.cuda.runtime.deviceSynchronize
    ours = median_time(lambda: gpu.conv2d_forward(x, w, b), sync, repeats)
    cublas = median_time(lambda: cupy.matmul(a_mat, b_mat), sync, repeats)
    flops = 2.0 * rows * inner * cols
    return {"gemm": f"{rows} x {inner} by {inner} x {cols}", "ours_ms": 1e3 * ours, "cublas_ms": 1e3 * cublas,
            "ours_gflops": flops / ours / 1e9, "cublas_gflops": flops / cublas / 1e9,
            "ours_over_cublas": cublas / ours}


if __name__ == "__main__":
    import json
    print(json.dumps(compare(), indent=2))
