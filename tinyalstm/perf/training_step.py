"""One training step of the VideoLSTM-paper models, ours and the PyTorch peer's, timed and counted in FLOPs: the
benchmark behind ``python -m tinyalstm.bench``.

One step is ``model.loss_and_input_grads(X, y, M, rng)``: the forward pass, the per-step softmax loss and the
hand-written backward pass through time, returning the loss, every parameter's gradient and the gradient of the
input maps (head dropout on, its mask drawn from ``rng``, as in training). The time is the median of ``repeats``
steps after one warm-up step; ours, the peer's and the GEMM ceiling's steps (the step's matrix products alone,
at the shapes of ``flops.forward_gemms``) take turns (``timing.interleaved_medians``). The peer (torch_peer.py) is
used only when ``import torch`` works; before a model is timed, ``peer_check.verify_peer`` checks on a small
float64 configuration that it computes the same loss and gradients.

This module is the driver; its parts are ``steps`` (the models, sizes and the steps timed), ``flops`` (the FLOP
count), ``timing`` (the timing loop and the device), ``peer_check`` (the peer imported and checked) and ``table``
(the report).
"""
import sys

import numpy as np

from .flops import step_flops
from .peer_check import import_torch, verify_peer
from .steps import gemm_step, ours_step, torch_step
from .table import format_table, print_footer, print_header
from .timing import device_sync, interleaved_medians, on_device, release_gpu_memory


def run_benchmark(models, configs, device, dtype="float32", repeats=5, use_torch=True, update=False, dropout=True,
                  out=None, log=None):
    """Time every model at every config on ``device``, print the report to ``out`` and progress to ``log``;
    return the rows: dicts with model, config, device, dtype, flops (per step), ours_s, torch_s (or None) and
    gemm_s (the GEMM ceiling's step, ``steps.gemm_step``), median seconds per step. tinyalstm's device is restored
    afterwards."""
    out = sys.stdout if out is None else out
    log = sys.stderr if log is None else log
    dtype = np.dtype(dtype)
    torch, why = import_torch(device) if use_torch else (None, None)
    rows = []
    with on_device(device):
        print_header(out, device, torch, why, configs, repeats, update, dropout)
        for name in models:
            if torch is not None:
                print(f"[bench] {name}: verify_peer (float64, tiny config)", file=log, flush=True)
                w = verify_peer(name)
                print(f"{name}: peer matches: max rel grad diff {w['grads']:.1e}, input grads {w['inputs']:.1e}, "
                      f"loss diff {w['loss']:.1e} (float64, dropout off and same mask)", file=out, flush=True)
            for cfg in configs:
                flops = step_flops(name, cfg)
                label = f"{name}/{cfg.name}"
                print(f"[bench] {label}: ours, torch peer, GEMMs ({flops / 1e9:.4g} GFLOP/step)", file=log, flush=True)
                steps = {f"{label} ours": (ours_step(name, cfg, dtype, update, dropout), device_sync())}
                if torch is not None:
                    steps[f"{label} torch"] = torch_step(torch, name, cfg, dtype, update, dropout)
                steps[f"{label} GEMMs"] = (gemm_step(name, cfg, dtype), device_sync())
                medians = list(interleaved_medians(steps, repeats, log=log).values())
                del steps
                release_gpu_memory()
                rows.append({"model": name, "config": cfg.name, "device": device, "dtype": dtype.name,
                             "flops": flops, "ours_s": medians[0], "torch_s": medians[1] if torch else None,
                             "gemm_s": medians[-1]})
    print(format_table(rows), file=out)
    print_footer(out, device)
    out.flush()
    return rows
