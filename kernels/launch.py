"""What every kernel launcher needs: the array module of its arguments and the stream to launch on."""
from numba import cuda

from ..backend import array_module  # noqa: F401 -- re-exported for the launchers


def stream_of(x):
    """CuPy's current stream for a CuPy array, so that our kernels are ordered with CuPy's own work without a
    synchronisation; the default stream for NumPy arrays (the simulator)."""
    if type(x).__module__.startswith("cupy"):
        import cupy
        return cuda.external_stream(cupy.cuda.get_current_stream().ptr)
    return 0
