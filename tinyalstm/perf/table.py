"""The training-step benchmark's report: the header (what is timed, on which hardware and libraries, at which
sizes), the table of rows from ``training_step.run_benchmark`` (ours, the peer and the GEMM ceiling side by side)
and the closing line."""
import os
import platform

import numpy as np

from .steps import UPDATE

COLUMNS = ("model", "config", "device", "dtype", "GFLOP/step", "ours ms/step", "ours GFLOP/s", "torch ms/step",
           "torch GFLOP/s", "ours/torch", "GEMMs ms/step", "ceiling GFLOP/s", "ours % of ceiling")


def _num(x):
    """One decimal from 10 up, three significant digits below (tiny configs run at a fraction of a GFLOP/s)."""
    return f"{x:.1f}" if x >= 10 else f"{x:.3g}"


def _ratio(x):
    return f"{x:.2f}" if x >= 0.1 else f"{x:.2g}"


def format_table(rows):
    """Rows (dicts from run_benchmark) -> a Markdown table, columns aligned."""
    def cells(r):
        gflop = r["flops"] / 1e9
        ours = [_num(1e3 * r["ours_s"]), _num(gflop / r["ours_s"])]
        if r["torch_s"] is None:
            theirs = ["-", "-", "-"]
        else:
            theirs = [_num(1e3 * r["torch_s"]), _num(gflop / r["torch_s"]), _ratio(r["ours_s"] / r["torch_s"])]
        ceiling = [_num(1e3 * r["gemm_s"]), _num(gflop / r["gemm_s"]), f"{100 * r['gemm_s'] / r['ours_s']:.0f}"]
        return [r["model"], r["config"], r["device"], r["dtype"], _num(gflop), *ours, *theirs, *ceiling]

    table = [list(COLUMNS)] + [cells(r) for r in rows]
    widths = [max(len(row[i]) for row in table) for i in range(len(COLUMNS))]
    lines = ["| " + " | ".join(c.ljust(w) if i < 4 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths)))
             + " |" for row in table]
    lines.insert(1, "|" + "|".join("-" * (w + 2) if i < 4 else "-" * (w + 1) + ":" for i, w in enumerate(widths))
                 + "|")
    return "\n".join(lines)


def describe_device(device, torch):
    """One line naming the hardware and the libraries."""
    if device == "cuda":
        import cupy                   # optional (the gpu extra)
        name = cupy.cuda.runtime.getDeviceProperties(cupy.cuda.Device().id)["name"].decode()
        line = f"device cuda: {name}, CuPy {cupy.__version__}"
    else:
        cpu = platform.processor() or platform.machine()
        line = f"device cpu: {cpu}, {os.cpu_count()} cores, NumPy {np.__version__}"
        if hasattr(os, "getloadavg"):      # other work on the machine skews CPU timings: say how busy it was
            line += f", load average {os.getloadavg()[0]:.1f} at start"
    if torch is not None:
        extra = (f", cuDNN {torch.backends.cudnn.version()}, TF32 off, cudnn.benchmark on" if device == "cuda"
                 else f", {torch.get_num_threads()} threads")
        line += f"; peer: PyTorch {torch.__version__}{extra}"
    return line


def print_header(out, device, torch, why, configs, repeats, update, dropout):
    """What is timed, on what, at which sizes: the lines above the table."""
    what = ("model.loss_and_input_grads(X, y, M, rng): forward + backward through time, loss, parameter and "
            f"input-map gradients, head dropout {'on (training)' if dropout else 'off'}")
    print(f"tinyalstm.bench: one training step = {what}; optimiser update: {UPDATE if update else 'none'}", file=out)
    print(describe_device(device, torch), file=out)
    if torch is None:
        print(f"torch not importable: peer skipped ({why})" if why else "torch peer: off (--no-torch)", file=out)
    for cfg in configs:
        print(f"config {cfg.name}: {cfg.describe()}", file=out)
    print(f"time: median of {repeats} step{'s' if repeats > 1 else ''} after 1 warm-up step each, ours, the peer's "
          "and the GEMMs' steps interleaved (time.perf_counter, device synchronised); GFLOP/s: analytic FLOPs of "
          "the convolutions and head matrix products, forward x 3 (tinyalstm.perf.flops.forward_flops)",
          file=out)
    matmul = "cupy.matmul (cuBLAS)" if device == "cuda" else "numpy.matmul (its BLAS)"
    print(f"ceiling: the same FLOPs as bare GEMMs, {matmul} on each convolution's im2col product (K, C k k) x "
          "(C k k, B N N) and each head product, forward and both backward products, as many as one step makes "
          "(tinyalstm.perf.steps.gemm_step); ours % of ceiling = GEMMs' time / ours", file=out, flush=True)


def print_footer(out, device):
    """The line below the table: on the CPU, how busy the machine was at the end."""
    if device == "cpu" and hasattr(os, "getloadavg"):
        print(f"load average {os.getloadavg()[0]:.1f} at the end (other processes on these cores slow the CPU "
              "timings)", file=out)
