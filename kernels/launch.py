"""How every kernel is declared, compiled and launched: one ``Kernel`` per kernel function.

A kernel's arrays are flat: on the GPU they are raw device pointers (``CPointer(float32)``), in the simulator
1-D NumPy arrays; the kernel body indexes both the same way (``x[i]`` with a flat index from int32 sizes and
tables; Numba widens a sum of int32 values to 64 bits, and the kernels cast back to int32 where it keeps a loop
32-bit), so the code the simulator checks is the code the GPU runs. The declared signature lists each argument
as ``"f"`` (a float array of the kernel's dtype), ``"i"`` (an int32 table) or ``"n"`` (an int32 scalar).

On the GPU:
- **Eager, once per dtype.** The kernel is compiled for its one signature on first use (``Dispatcher.compile``),
  and every later launch calls the compiled kernel directly: nothing is typed per call.
- **No per-launch synchronisation.** Arguments are passed as raw pointers (``x.data.ptr``), so Numba never
  imports a CuPy array through ``__cuda_array_interface__`` (which, with ``NUMBA_CUDA_ARRAY_INTERFACE_SYNC=1``,
  its default, synchronises the array's stream on every launch, or exports DLPack per argument). The launch goes
  on CuPy's current stream, so it is ordered after the CuPy work that made its inputs without any wait.
- The same signatures are what ``tinyalstm.perf.kernels`` compiles for sm_80 and sm_90 and reads at the
  instruction level; the simulator launcher checks that every launch's arguments match them.

``LAUNCHES`` counts launches by kernel name (a counter a report or a test can read and reset); in the simulator,
``count_traffic`` counts the global-memory bytes each kernel's code reads and writes.
"""
import collections
import warnings

import numpy as np
from numba import cuda, from_dtype, int32, types

from ..backend import array_module  # noqa: F401 -- re-exported for the launchers

SIMULATOR = bool(cuda.config.ENABLE_CUDASIM)
LAUNCHES = collections.Counter()
KERNELS = {}          # every Kernel by name, in the order their modules define them


def _current_stream():
    """CuPy's current stream (its handle), so that our kernels are ordered with CuPy's own work without a
    synchronisation. CuPy is imported here, not at the top: the simulator runs without it."""
    import cupy
    return cupy.cuda.get_current_stream().ptr


class Kernel:
    """A CUDA kernel written over flat arrays. ``make(dtype)`` returns the kernel's Python function for one float
    dtype (its float constants are that dtype's, so float32 code holds no float64); ``kinds`` gives each
    argument's kind: ``"f"`` float array, ``"i"`` int32 array, ``"n"`` int32 scalar. ``kernel.launch(dtype, grid,
    block, *args)`` runs it; ``threads`` is the block size it is written for (the report's occupancy)."""

    def __init__(self, name, make, kinds, threads):
        self.name, self.make, self.kinds, self.threads = name, make, tuple(kinds), threads
        self._sources, self._compiled, self._configs = {}, {}, {}
        KERNELS[name] = self

    def source(self, dtype):
        """The Python function for ``dtype`` (made once), which the simulator runs and the compiler compiles."""
        dtype = np.dtype(dtype).name
        if dtype not in self._sources:
            self._sources[dtype] = self.make(np.dtype(dtype))
        return self._sources[dtype]

    def signature(self, dtype):
        """The argument types it is compiled with for ``dtype`` (raw pointers and int32 scalars)."""
        f = types.CPointer(from_dtype(np.dtype(dtype)))
        return tuple({"f": f, "i": types.CPointer(int32), "n": int32}[k] for k in self.kinds)

    def launch(self, dtype, grid, block, *args, shared=0):
        """Run on ``grid`` x ``block`` with ``shared`` bytes of dynamic shared memory."""
        dtype = np.dtype(dtype).name
        LAUNCHES[self.name] += 1
        self._check(dtype, args)
        if SIMULATOR:
            # the simulator runs the kernel as Python on flat NumPy views
            if dtype not in self._compiled:
                self._compiled[dtype] = cuda.jit(self.source(dtype))
            flat = [int32(a) if k == "n" else self._flat(a) for a, k in zip(args, self.kinds)]
            _Counted.running = self.name
            self._compiled[dtype][grid, block, 0, shared](*flat)
            return
        if dtype not in self._compiled:
            dispatcher = cuda.jit(self.source(dtype))
            self._compiled[dtype] = (dispatcher, dispatcher.compile(self.signature(dtype)))
        dispatcher, kernel = self._compiled[dtype]
        stream = _current_stream()
        key = (dtype, grid, block, stream, shared)
        config = self._configs.get(key)
        if config is None:
            if len(self._configs) >= 256:   # e.g. a new stream per batch: keep the cache small
                self._configs.clear()
            # Numba's own normalisation of grid, block and stream, made once per launch shape. Its warning for
            # grids under 128 blocks is silenced: our grids are sized by the problem (one block per video of a
            # batch of 32 for the softmax backward).
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", message="Grid size")
                config = self._configs[key] = dispatcher[grid, block, cuda.external_stream(stream), shared]
        values = [int(a) if k == "n" else a.data.ptr for a, k in zip(args, self.kinds)]
        kernel.launch(values, config.griddim, config.blockdim, config.stream, config.sharedmem)

    def _flat(self, a):
        """The flat view the simulator passes; while ``count_traffic`` is on, one that counts its accesses."""
        flat = a.reshape(-1)
        return flat.view(_Counted) if _TRAFFIC_ON else flat

    def _check(self, dtype, args):
        """Every argument as the compiled signature has it (a few attribute reads, no typing): a launch the
        compiler has not seen fails here, in the simulator as on the GPU, instead of reading memory wrongly."""
        if len(args) != len(self.kinds):
            raise TypeError(f"{self.name}: expected {len(self.kinds)} arguments, got {len(args)}")
        for position, (a, kind) in enumerate(zip(args, self.kinds)):
            if kind == "n":
                if not isinstance(a, (int, np.integer)) or not -2**31 <= int(a) < 2**31:
                    raise TypeError(f"{self.name} argument {position}: expected an int32 scalar, got {a!r}")
                continue
            want = np.dtype(dtype) if kind == "f" else np.dtype(np.int32)
            if getattr(a, "dtype", None) != want or not a.flags.c_contiguous:
                raise TypeError(f"{self.name} argument {position}: expected a C-contiguous {want} array, got "
                                f"{type(a).__name__} {getattr(a, 'dtype', '')}")


TRAFFIC = collections.Counter()   # (kernel name, "read" | "written") -> bytes, while count_traffic is on
_TRAFFIC_ON = False


class _Counted(np.ndarray):
    """A flat array whose element reads and writes a simulated kernel makes are added to ``TRAFFIC``: what the
    kernel's code asks of global memory, element by element (before any cache)."""
    running = None       # the kernel being simulated (launches in the simulator run one at a time)

    def __getitem__(self, index):
        TRAFFIC[(_Counted.running, "read")] += self.itemsize
        return super().__getitem__(index)

    def __setitem__(self, index, value):
        TRAFFIC[(_Counted.running, "written")] += self.itemsize
        super().__setitem__(index, value)


class count_traffic:
    """``with count_traffic(): ...`` counts the global-memory bytes of every kernel launched inside (the
    simulator only; it slows the simulator further)."""

    def __enter__(self):
        global _TRAFFIC_ON
        if not SIMULATOR:
            raise RuntimeError("count_traffic needs the CUDA simulator (NUMBA_ENABLE_CUDASIM=1)")
        TRAFFIC.clear()
        _TRAFFIC_ON = True
        return TRAFFIC

    def __exit__(self, *exc):
        global _TRAFFIC_ON
        _TRAFFIC_ON = False


def cdiv(a, b):
    """Ceiling division, for grid sizes."""
    return (a + b - 1) // b
