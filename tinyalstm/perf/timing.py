"""Timing a step on a device: one loop (``interleaved_medians``) times every step the benchmarks compare, ours and its
peers in turn. ``sync`` functions wait for the device, so queued GPU work falls inside the measurement; ``on_device``
runs a block on a chosen device and ``release_gpu_memory`` empties the memory pools between measurements."""
import contextlib
import gc
import statistics
import sys
import time

from .. import backend


def interleaved_medians(steps, repeats, warmup=1, log=None):
    """Median wall time (s) of each of ``steps`` {label: (step, sync)}: ``warmup`` runs of each, then ``repeats``
    rounds that run every step once, in turn. On a shared machine a change of load then falls on all of them
    alike, where timing one after the other would hand it to whichever ran at the time. ``sync()`` waits for the
    device before the clock starts and before it stops. -> {label: seconds}."""
    for step, sync in steps.values():
        for _ in range(warmup):
            step()
            sync()
    times = {label: [] for label in steps}
    for i in range(repeats):
        for label, (step, sync) in steps.items():
            sync()
            t0 = time.perf_counter()
            step()
            sync()
            times[label].append(time.perf_counter() - t0)
            if log is not None:
                print(f"  {label} step {i + 1}/{repeats}: {times[label][-1]:.3f} s", file=log, flush=True)
    return {label: statistics.median(t) for label, t in times.items()}


def cupy_sync():
    """Wait for our GPU work: CuPy's current stream (where the layers and the Numba kernels run), then the whole
    device, so that a kernel launched on another stream is not left running outside the timing."""
    import cupy                       # optional (the gpu extra): imported only on the GPU path
    cupy.cuda.get_current_stream().synchronize()
    cupy.cuda.runtime.deviceSynchronize()


def device_sync():
    """The wait for our work on the current device: ``cupy_sync`` on the GPU, nothing on the CPU."""
    return cupy_sync if backend.get_device() == "cuda" else (lambda: None)


@contextlib.contextmanager
def on_device(name):
    """Run the block with tinyalstm's device set to ``name``, then restore the previous device."""
    previous = backend.get_device()
    backend.set_device(name)
    try:
        yield
    finally:
        backend.set_device(previous)


def release_gpu_memory():
    """Return CuPy's and torch's cached blocks, so one side's memory pool does not squeeze the other."""
    gc.collect()
    if backend.get_device() != "cuda":
        return
    import cupy                       # optional (the gpu extra)
    cupy.get_default_memory_pool().free_all_blocks()
    torch = sys.modules.get("torch")      # only if the peer is in use: --no-torch must not import torch
    if torch is not None:
        torch.cuda.empty_cache()
