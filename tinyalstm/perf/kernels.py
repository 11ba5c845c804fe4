"""The kernel report: every CUDA kernel of ``kernels/`` compiled for a real GPU and read at the instruction level.

    python -m tinyalstm.perf.kernels                 # sm_90 (H100/H200), float32: the table
    python -m tinyalstm.perf.kernels --cc 80 --dtype float64

No GPU is needed. Each kernel is compiled for the signature it is launched with by NVIDIA's numba-cuda target
(``numba.cuda.compile_ptx``, NVVM), assembled by ``ptxas`` and disassembled by ``nvdisasm``; both come from pip
wheels (``nvidia-cuda-nvcc-cu12``, ``nvidia-cuda-nvdisasm``; the ``test`` extra installs them). From ptxas: registers,
spills, shared memory; from these and the per-SM limits, the occupancy. From the SASS: the main loop (the innermost
loop, found from the backward branches, that holds the most FFMA; the whole kernel when it has no loop), its
instruction mix, and the bound it puts on speed:

    An SM has four schedulers; each issues at most one warp instruction per cycle. On Hopper (sm_90) FP32 peak is
    one FFMA per scheduler per cycle (4 x 32 lanes = 128 FP32 FMA per SM per cycle), so a loop whose instructions
    are a fraction f FFMA (its FFMA share) can reach at most f of FP32 peak, however well its memory is hidden.
    The A100 (sm_80) has 64 FP32 lanes per SM: a warp's FFMA occupies its scheduler's lanes for 2 cycles, peak
    is one FFMA every other cycle, and the bound is min(1, 2 f).
    bound = min(1, FFMA share x 128 / FP32 lanes per SM).

The same counts flag what float32 code must not hold: FP64 instructions (DADD, DMUL, DFMA, ... and conversions
to or from F64), calls to the 64-bit integer division routines and inline 32-bit divisions (each starts with an
``I2F.U32.RP``). With a GPU present, ``--time`` also times each kernel alone against its peer (cuBLAS SGEMM at
the same GEMM shape for the convolution; CuPy's element-wise and reduction ops for the others).
"""
import argparse
import base64
import contextlib
import dataclasses
import importlib.util
import json
import os
import pickle
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from numba import cuda

from .. import backend
from ..kernels import conv2d as kconv
from ..kernels import lstm_pointwise as kpw
from ..kernels import spatial_softmax as ksm
from ..kernels.launch import KERNELS, LAUNCHES, count_traffic
from ..layers import lstm as llstm
from ..layers import spatial_attention as latt
from ..models import build_model
from ..run.cli import run
from .timing import cupy_sync, interleaved_medians

# Per-SM limits of sm_80 (A100) and sm_90 (H100/H200): registers, threads, blocks, shared memory (bytes usable
# by blocks; each block also takes 1 KB reserved), register allocation per warp in units of 256.
SM_LIMITS = {80: dict(registers=65536, threads=2048, blocks=32, shared=167936, fp32_lanes=64, name="A100"),
             90: dict(registers=65536, threads=2048, blocks=32, shared=233472, fp32_lanes=128, name="H100/H200")}
FP64_OPS = ("DADD", "DMUL", "DFMA", "DSETP", "DMNMX", "DMMA", "DSET")


class ToolchainMissing(RuntimeError):
    """numba-cuda, ptxas or nvdisasm is not installed."""


def _wheel_tool(name, subdirs):
    spec = importlib.util.find_spec("nvidia")
    roots = list(spec.submodule_search_locations) if spec and spec.submodule_search_locations else []
    for root in roots:
        for sub in subdirs:
            path = Path(root) / sub / "bin" / name
            if path.is_file():
                return str(path)
    return shutil.which(name)


def toolchain():
    """Paths of ptxas and nvdisasm (from the pip wheels first, then PATH), or ToolchainMissing saying what to
    install."""
    ptxas = _wheel_tool("ptxas", ["cuda_nvcc", "cu13", "cu12"])
    nvdisasm = _wheel_tool("nvdisasm", ["cuda_nvdisasm", "cu13", "cu12", "cuda_nvcc"])
    missing = [n for n, p in (("ptxas (pip install nvidia-cuda-nvcc-cu12)", ptxas),
                              ("nvdisasm (pip install nvidia-cuda-nvdisasm)", nvdisasm)) if p is None]
    if missing:
        raise ToolchainMissing("kernel report: not found: " + ", ".join(missing)
                               + "; pip install -e '.[test]' installs both")
    return ptxas, nvdisasm


@dataclasses.dataclass
class Compiled:
    """One kernel compiled for one dtype and compute capability."""
    name: str
    dtype: str
    cc: int
    registers: int
    spill_stores: int
    spill_loads: int
    stack: int
    shared: int            # static shared memory per block, bytes
    sass: list             # [(address, opcode, text, labels)] in program order


def _simulator_on():
    return bool(cuda.config.ENABLE_CUDASIM)


def kernels():
    """Every kernel the library launches (importing the kernel modules registers them)."""
    return dict(KERNELS)


def compile_kernel(kernel, dtype="float32", cc=90, tools=None):
    """Compile ``kernel`` (a ``kernels.launch.Kernel``) for ``dtype`` on sm_<cc>: PTX from numba-cuda, cubin from
    ptxas, SASS from nvdisasm. Raises the compiler's own error when the kernel does not compile."""
    ptxas, nvdisasm = tools or toolchain()
    ptx, _ = cuda.compile_ptx(kernel.source(dtype), kernel.signature(dtype), cc=divmod(cc, 10))
    with tempfile.TemporaryDirectory() as tmp:
        src, cubin = Path(tmp) / "k.ptx", Path(tmp) / "k.cubin"
        src.write_text(ptx)
        done = subprocess.run([ptxas, f"-arch=sm_{cc}", "-v", str(src), "-o", str(cubin)],
                              capture_output=True, text=True)
        if done.returncode != 0:
            raise RuntimeError(f"ptxas failed on {kernel.name} ({dtype}, sm_{cc}):\n{done.stderr}")
        info = done.stderr
        sass = subprocess.run([nvdisasm, "-c", str(cubin)], capture_output=True, text=True, check=True).stdout

    def grab(pattern):
        found = re.search(pattern, info)
        return int(found.group(1)) if found else 0
    return Compiled(kernel.name, dtype, cc, registers=grab(r"Used (\d+) registers"),
                    spill_stores=grab(r"(\d+) bytes spill stores"), spill_loads=grab(r"(\d+) bytes spill loads"),
                    stack=grab(r"(\d+) bytes stack frame"), shared=grab(r"(\d+) bytes smem"),
                    sass=parse_sass(sass))


_LINE = re.compile(r"/\*([0-9a-f]{4,})\*/\s+(?:@!?U?P\w+\s+)?([A-Z][A-Z0-9_.]*)([^;]*);")
_LABEL = re.compile(r"^(\.L_x_\d+):")


def parse_sass(text):
    """nvdisasm output -> [(address, opcode, text, labels)] in program order; ``labels`` (one dict shared by all
    rows) maps each branch label to its address."""
    rows, labels, pending = [], {}, []
    for line in text.splitlines():
        label = _LABEL.match(line.strip())
        if label:
            pending.append(label.group(1))
            continue
        found = _LINE.search(line)
        if found:
            address = int(found.group(1), 16)
            for name in pending:
                labels[name] = address
            pending = []
            if found.group(2) != "NOP":          # the padding after the last instruction
                rows.append((address, found.group(2), found.group(0)))
    return [(a, op, txt, labels) for a, op, txt in rows]


def loops(sass):
    """The loops of a kernel as (start, end) address ranges: every branch back to an earlier label."""
    found = []
    for address, op, text, labels in sass:
        if op.startswith("BRA"):
            target = re.search(r"\((\.L_x_\d+)\)", text)
            if target and labels.get(target.group(1), address + 1) <= address:
                found.append((labels[target.group(1)], address))
    return found


def is_fp64(op):
    base = op.split(".")[0]
    return base in FP64_OPS or ".F64" in op or op.startswith("MUFU.RCP64") or op.startswith("MUFU.RSQ64")


def mix(instructions):
    """Counts of what matters in a list of (address, opcode, text, labels)."""
    ops = [op for _, op, _, _ in instructions]
    texts = [t for _, _, t, _ in instructions]
    return dict(
        instructions=len(ops),
        ffma=sum(op.split(".")[0] in ("FFMA", "DFMA") for op in ops),
        shared_loads=sum(op.startswith("LDS") for op in ops),
        shared_load_words=sum(_words(op) for op in ops if op.startswith("LDS")),
        global_loads=sum(op.startswith("LDG") for op in ops),
        fp64=sum(is_fp64(op) for op in ops),
        divisions=sum(op.startswith("I2F.U32.RP") for op in ops)
        + sum(op.startswith("CALL") and ("div_" in t or "rem_" in t) and "_f32" not in t and "_f64" not in t
              for op, t in zip(ops, texts)),
    )


def _words(op):
    """32-bit words one shared load moves per thread: LDS.128 = 4, LDS.64 = 2, LDS = 1."""
    for width, words in ((".128", 4), (".64", 2)):
        if width in op:
            return words
    return 1


def main_loop(sass):
    """The innermost loop that holds the most FFMA (the whole kernel when no loop holds any)."""
    best, best_key = None, None
    for start, end in loops(sass):
        body = [row for row in sass if start <= row[0] <= end]
        m = mix(body)
        key = (m["ffma"], -m["instructions"])
        if m["ffma"] and (best_key is None or key > best_key):
            best, best_key = (start, end), key
    if best is None:
        return None, sass
    return best, [row for row in sass if best[0] <= row[0] <= best[1]]


def occupancy(registers, shared, threads, cc=90):
    """Theoretical occupancy: resident warps per SM over the maximum, from registers (allocated per warp in
    units of 256), static shared memory (plus 1 KB reserved per block; the softmax kernels' dynamic shared
    memory, S or 2 S values, is not counted) and threads per block."""
    lim = SM_LIMITS[cc]
    warps = -(-threads // 32)
    per_warp = -(-max(registers, 1) * 32 // 256) * 256
    by_regs = lim["registers"] // (per_warp * warps)
    by_shared = lim["shared"] // (shared + 1024) if shared else lim["blocks"]
    blocks = min(by_regs, by_shared, lim["threads"] // threads, lim["blocks"])
    return blocks, blocks * warps / (lim["threads"] // 32)


@dataclasses.dataclass
class Row:
    """One kernel's line of the report."""
    compiled: Compiled
    threads: int
    blocks_per_sm: int
    occupancy: float
    whole: dict            # the whole kernel's mix
    loop: dict             # the main loop's mix
    has_loop: bool
    loop_divisions: int    # integer divisions inside any loop

    @property
    def ffma_share(self):
        """FFMA / instructions of the main loop: the fraction of issue slots that do FP32 multiply-adds."""
        return self.loop["ffma"] / max(1, self.loop["instructions"])

    @property
    def bound(self):
        """Upper bound on the fraction of FP32 peak the main loop can reach on its GPU (module docstring)."""
        return min(1.0, self.ffma_share * 128 / SM_LIMITS[self.compiled.cc]["fp32_lanes"])


def analyse(kernel, dtype="float32", cc=90, tools=None):
    """Compile and read one kernel -> Row. Inside the CUDA simulator (which cannot compile), in a child Python
    without it, so a notebook can check a kernel's numbers in the simulator and read its SASS side by side."""
    if _simulator_on():
        code = ("import base64, pickle; from tinyalstm.perf.kernels import analyse, kernels; "
                f"row = analyse(kernels()[{kernel.name!r}], {dtype!r}, {cc!r}); "
                "print(base64.b64encode(pickle.dumps(row)).decode())")
        return pickle.loads(base64.b64decode(_in_child(code, simulator=False)))
    c = compile_kernel(kernel, dtype, cc, tools)
    span, body = main_loop(c.sass)
    threads = kernel.threads
    blocks, occ = occupancy(c.registers, c.shared, threads, cc)
    in_loops = [row for row in c.sass if any(a <= row[0] <= b for a, b in loops(c.sass))]
    return Row(c, threads, blocks, occ, mix(c.sass), mix(body), span is not None, mix(in_loops)["divisions"])


def report(dtype="float32", cc=90):
    """Rows for every kernel."""
    tools = toolchain()
    return [analyse(k, dtype, cc, tools) for k in kernels().values()]


COMPUTE_BOUND = ("conv2d_gemm",)


def format_compute_table(rows):
    """The compute-bound kernels (the gate convolution's implicit GEMM): the main loop read from the SASS."""
    lines = ["| kernel | regs | spills (B) | smem (B) | occupancy | FP64 | int div in loops | main loop: instructions | "
             "FFMA | shared loads per FFMA (words) | FFMA share | bound: % of FP32 peak |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for r in rows:
        c, lp = r.compiled, r.loop
        if c.name not in COMPUTE_BOUND:
            continue
        lines.append(f"| {c.name} | {c.registers} | {c.spill_stores + c.spill_loads} | {c.shared} | "
                     f"{r.occupancy:.0%} ({r.blocks_per_sm} x {r.threads}) | {r.whole['fp64']} | {r.loop_divisions} | "
                     f"{lp['instructions']} | {lp['ffma']} | {lp['shared_loads'] / lp['ffma']:.3f} "
                     f"({lp['shared_load_words'] / lp['ffma']:.3f}) | {r.ffma_share:.0%} | {r.bound:.0%} |")
    return "\n".join(lines)


def format_memory_table(rows, traffic):
    """The memory-bound kernels: what ptxas and the SASS say, and the bytes each moves per element (``traffic``,
    measured in the simulator) against the minimum its contract allows."""
    lines = ["| kernel | regs | spills (B) | occupancy | SASS instructions | FP64 | int div in loops | "
             "bytes per element | minimum |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for r in rows:
        c = r.compiled
        if c.name in COMPUTE_BOUND:
            continue
        moved, least = traffic.get(c.name, (float("nan"), float("nan")))
        lines.append(f"| {c.name} | {c.registers} | {c.spill_stores + c.spill_loads} | {r.occupancy:.0%} "
                     f"({r.blocks_per_sm} x {r.threads}) | {r.whole['instructions']} | {r.whole['fp64']} | "
                     f"{r.loop_divisions} | {moved:.2f} | {least:.2f} |")
    return "\n".join(lines)


# -- measured in the CUDA simulator: global-memory traffic per element and launches per training step -----------
TRAFFIC_SHAPE = dict(B=2, K=4, C=16, S=9)


def _in_child(code, simulator):
    """Run ``code`` in a child Python with the CUDA simulator on or off (numba.cuda is one or the other for a
    whole process) -> the last line it printed."""
    env = {**os.environ, "NUMBA_ENABLE_CUDASIM": "1" if simulator else "0"}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    if done.returncode != 0:
        raise RuntimeError(f"child Python ({'simulator' if simulator else 'compiler'}) failed:\n"
                           f"{done.stderr[-3000:]}")
    return done.stdout.strip().splitlines()[-1]


def measure_traffic():
    """In the simulator (NUMBA_ENABLE_CUDASIM=1): each memory-bound kernel's global-memory bytes per element
    (per cell element for the LSTM kernels, per map element for the softmax), float32, as the kernel's code
    reads and writes them, and the minimum its contract allows: -> {name: (bytes, minimum)}. Measured at two
    batch sizes and differenced, so the simulator's own reads of each argument cancel."""
    K, C, S = (TRAFFIC_SHAPE[k] for k in "KCS")
    r = np.random.default_rng(0)
    f = np.float32

    def run(B):
        a, pc = r.normal(size=(B, 4 * K, S)).astype(f), r.normal(size=(B, K, S)).astype(f)
        z, x = r.normal(size=(B, S)).astype(f), r.normal(size=(B, C, S)).astype(f)
        with count_traffic() as counts:
            h, c, cache = kpw.lstm_pointwise_forward(a, pc)
            kpw.lstm_pointwise_backward(h, c, cache)
            x_att, att, scache = ksm.spatial_softmax_forward(z, x)
            ksm.spatial_softmax_backward(x_att, scache, att)
        return {name: counts[(name, "read")] + counts[(name, "written")] for name, _ in counts}

    small, large = run(TRAFFIC_SHAPE["B"]), run(TRAFFIC_SHAPE["B"] + 1)
    maps, positions = C * S, S          # per batch row

    def moved(name, per):
        return (large[name] - small[name]) / per
    return {   # minimum: the arrays of the contract, each read or written once, per element
        "lstm_pointwise_forward": (moved("lstm_pointwise_forward", K * S), 4.0 * (4 + 1 + 2)),
        "lstm_pointwise_backward": (moved("lstm_pointwise_backward", K * S), 4.0 * (2 + 4 + 1 + 4 + 1)),
        "spatial_softmax_forward": (moved("spatial_softmax_forward", maps), 4.0 * (2 * maps + 2 * positions) / maps),
        "spatial_softmax_backward": (moved("spatial_softmax_backward", maps),
                                     4.0 * (3 * maps + 3 * positions) / maps),
    }


def traffic():
    """``measure_traffic`` run in a simulator child process."""
    return {k: tuple(v) for k, v in json.loads(_in_child(
        "import json; from tinyalstm.perf.kernels import measure_traffic; "
        "print(json.dumps(measure_traffic()))", simulator=True)).items()}


def count_launches(steps):
    """In the simulator: our kernel launches of one VideoLSTM training step (forward and backward of the loss)
    over ``steps`` time steps, by kernel, through the step-by-step layers the GPU path runs (the count does not
    depend on the sizes, so the smallest model is used). It routes this process's NumPy arrays through the kernels
    for good (``backend.implementation``): ``launches_per_step`` runs it in a child process."""
    backend.implementation = lambda arr: backend.KERNELS   # NumPy arrays through the kernels, as CuPy arrays go
    model = build_model("videolstm", 2, 1, 1, map_size=1, second_dim=1, fc_dim=1, dropout=0.0, seed=0,
                        dtype=np.float32)
    r = np.random.default_rng(0)
    X, M = r.normal(size=(1, steps, 1, 1, 1)), r.normal(size=(1, steps, 1, 1, 1))
    LAUNCHES.clear()
    model.loss_and_input_grads(X.astype(np.float32), np.array([1]), M.astype(np.float32))
    return dict(LAUNCHES)


def launches_per_step(steps=30):
    """Our kernel launches of one VideoLSTM training step at ``steps`` time steps: counted in the simulator at
    T = 1 and T = 2 (the count is fixed + T x per step) -> (total at ``steps``, per step, fixed, by kernel at
    ``steps``)."""
    code = ("import json; from tinyalstm.perf.kernels import count_launches; "
            "print(json.dumps([count_launches(1), count_launches(2)]))")
    one, two = json.loads(_in_child(code, simulator=True))
    names = sorted(set(one) | set(two))
    per = {n: two.get(n, 0) - one.get(n, 0) for n in names}
    fixed = {n: one.get(n, 0) - per[n] for n in names}
    at = {n: fixed[n] + steps * per[n] for n in names}
    return sum(at.values()), sum(per.values()), sum(fixed.values()), at


# -- with a GPU: each kernel alone against its peer ------------------------------------------------------------
PAPER = dict(B=32, C=512, N=7, K=512, k=3)     # VideoLSTM's recurrent gate convolution: 512 -> 4 x 512, 3 x 3


@contextlib.contextmanager
def _plain_array_ops():
    """The layers' own array code (CuPy's element-wise and reduction ops on a GPU) instead of our kernels."""
    before = os.environ.get("TINYALSTM_KERNELS")
    os.environ["TINYALSTM_KERNELS"] = "0"
    try:
        yield
    finally:
        if before is None:
            del os.environ["TINYALSTM_KERNELS"]
        else:
            os.environ["TINYALSTM_KERNELS"] = before


def time_kernels(xp, sync, B=32, C=512, N=7, K=512, k=3, repeats=20, dtype="float32"):
    """Each kernel alone against its peer, in the same interleaved rounds (``timing.interleaved_medians``):
    the gate convolution's forward and backward (dgrad + wgrad) against cuBLAS SGEMM (``xp.matmul``) of exactly
    its GEMM shapes; the LSTM pointwise and spatial softmax kernels against the layers' own array code
    (CuPy's element-wise and reduction ops). ``xp`` is cupy on a GPU (``sync`` waits for it); the suite runs the
    same code on NumPy arrays in the simulator at a tiny size. -> list of dicts (one per kernel)."""
    r = np.random.default_rng(0)

    def arr(*shape):
        return xp.asarray(r.normal(size=shape).astype(dtype))

    S, G = N * N, 4 * K
    x, w, dout = arr(B, C, N, N), arr(G, C, k, k), arr(B, G, N, N)
    gemm_a, gemm_b = arr(G, C * k * k), arr(C * k * k, B * S)                 # forward: W @ cols
    dgrad_a, dgrad_b = arr(C, G * k * k), arr(G * k * k, B * S)             # dgrad: W' @ cols(dout)
    wgrad_a, wgrad_b = arr(G, B * S), arr(B * S, C * k * k)                 # wgrad: dout @ cols^T
    _, conv_cache = kconv.conv2d_forward(x, w)
    a, pc, dh, dc = arr(B, G, N, N), arr(B, K, N, N), arr(B, K, N, N), arr(B, K, N, N)
    _, _, pw_cache = kpw.lstm_pointwise_forward(a, pc)
    with _plain_array_ops():
        _, _, cell_cache = llstm.lstm_cell_forward(a, pc)
    z, maps, dmaps = arr(B, N, N), arr(B, K, N, N), arr(B, K, N, N)
    _, _, sm_cache = ksm.spatial_softmax_forward(z, maps)
    with _plain_array_ops():
        _, _, soft_cache = latt.spatial_softmax_forward(z, maps)

    def plain(f, *args):
        def run():
            with _plain_array_ops():
                f(*args)
        return run

    flops_fwd = 2.0 * G * C * k * k * B * S
    word = np.dtype(dtype).itemsize / 4            # the minimum bytes below are float32's
    cells, elements = word * B * K * S, word * B * K * S
    pairs = [   # (kernel, ours, peer, peer's name, work, unit)
        ("conv2d_gemm forward", lambda: kconv.conv2d_forward(x, w), lambda: xp.matmul(gemm_a, gemm_b),
         "cuBLAS SGEMM", flops_fwd, "GFLOP/s"),
        ("conv2d_gemm dgrad + wgrad", lambda: kconv.conv2d_backward(dout, conv_cache),
         lambda: (xp.matmul(dgrad_a, dgrad_b), xp.matmul(wgrad_a, wgrad_b)), "cuBLAS SGEMM x 2", 2 * flops_fwd,
         "GFLOP/s"),
        ("lstm_pointwise_forward", lambda: kpw.lstm_pointwise_forward(a, pc),
         plain(llstm.lstm_cell_forward, a, pc), "array ops", 28.0 * cells, "GB/s"),
        ("lstm_pointwise_backward", lambda: kpw.lstm_pointwise_backward(dh, dc, pw_cache),
         plain(llstm.lstm_cell_backward, dh, dc, cell_cache), "array ops", 48.0 * cells, "GB/s"),
        ("spatial_softmax_forward", lambda: ksm.spatial_softmax_forward(z, maps),
         plain(latt.spatial_softmax_forward, z, maps), "array ops", 8.0 * elements, "GB/s"),
        ("spatial_softmax_backward", lambda: ksm.spatial_softmax_backward(dmaps, sm_cache, z),
         plain(latt.spatial_softmax_backward, dmaps, soft_cache, z), "array ops", 12.0 * elements, "GB/s"),
    ]
    rows = []
    for name, ours, peer, peer_name, work, unit in pairs:
        t = interleaved_medians({"ours": (ours, sync), "peer": (peer, sync)}, repeats)
        rows.append(dict(kernel=name, ours_ms=1e3 * t["ours"], peer=peer_name, peer_ms=1e3 * t["peer"],
                         ours_over_peer=t["peer"] / t["ours"], ours_rate=work / t["ours"] / 1e9,
                         peer_rate=work / t["peer"] / 1e9, unit=unit))
    return rows


def format_times(rows, shape):
    lines = [f"Each kernel alone against its peer, median of interleaved runs, {shape}",
             "| kernel | ours (ms) | peer | peer (ms) | peer time / ours | ours | peer |",
             "| --- | ---: | --- | ---: | ---: | ---: | ---: |"]
    for r in rows:
        lines.append(f"| {r['kernel']} | {r['ours_ms']:.3f} | {r['peer']} | {r['peer_ms']:.3f} | "
                     f"{r['ours_over_peer']:.2f} | {r['ours_rate']:.0f} {r['unit']} | {r['peer_rate']:.0f} {r['unit']} |")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m tinyalstm.perf.kernels",
        description="Compile every CUDA kernel of tinyalstm for a real GPU (no GPU needed) and read it at the "
                    "instruction level: registers, spills, shared memory, occupancy, FP64 instructions, integer "
                    "divisions, and the main loop's FFMA share (an upper bound on the fraction of FP32 peak). "
                    "Also counts the kernel launches of one VideoLSTM training step.")
    parser.add_argument("--cc", type=int, choices=sorted(SM_LIMITS), default=90,
                        help="compute capability: 90 = H100/H200 (default), 80 = A100")
    parser.add_argument("--dtype", choices=("float32", "float64"), default="float32")
    parser.add_argument("--launches", action="store_true",
                        help="also count the kernel launches of one VideoLSTM training step at T = 30 (runs "
                             "the model twice under the CUDA simulator: about a minute)")
    parser.add_argument("--time", action="store_true",
                        help="on a GPU (CuPy), also time each kernel alone against its peer at the paper's size: "
                             "the gate convolution against cuBLAS SGEMM of the same GEMM, the others against "
                             "CuPy's array operations")
    parser.add_argument("--json", metavar="PATH", help="with --time: also write the timings as JSON to PATH")
    args = parser.parse_args(argv)
    if args.json and not args.time:
        parser.error("--json: needs --time")
    status = 0
    try:
        rows = report(args.dtype, args.cc)
    except ToolchainMissing as err:
        print(err, file=sys.stderr)
        status, rows = 2, None
    if rows is not None:
        print(f"CUDA kernels compiled for sm_{args.cc} ({SM_LIMITS[args.cc]['name']}), {args.dtype}, by numba-cuda "
              f"and ptxas; read from the SASS\n")
        print(format_compute_table(rows))
        lanes = SM_LIMITS[args.cc]["fp32_lanes"]
        print(f"\nbound: the most of FP32 peak the main loop can reach: 4 schedulers per SM each issue one instruction "
              f"per cycle, and {lanes} FP32 lanes take " + ("one FFMA per scheduler per cycle: bound = FFMA share"
                                                          if lanes == 128 else "one FFMA per scheduler every other "
                                                          "cycle: bound = min(1, 2 x FFMA share)") + "\n")
        print(format_memory_table(rows, traffic()))
        print(f"\nbytes per element: global-memory reads and writes of the kernel's code per cell (LSTM) or map "
              f"element (softmax), counted in the CUDA simulator at B={TRAFFIC_SHAPE['B']}, "
              f"K={TRAFFIC_SHAPE['K']}, C={TRAFFIC_SHAPE['C']}, S={TRAFFIC_SHAPE['S']}; float32")
    if args.time:
        cupy = backend.cupy_or_none()
        if cupy is None:
            print("--time: CuPy is not installed or sees no GPU", file=sys.stderr)
            return 2
        rows = time_kernels(cupy, cupy_sync, **PAPER)
        props = cupy.cuda.runtime.getDeviceProperties(0)
        shape = (f"B={PAPER['B']}, C={PAPER['C']}, {PAPER['N']}x{PAPER['N']} maps, K={PAPER['K']} "
                 f"(gates 4K), {PAPER['k']}x{PAPER['k']}, float32, on {props['name'].decode()}")
        print("\n" + format_times(rows, shape))
        if args.json:
            Path(args.json).write_text(json.dumps(dict(device=props["name"].decode(), shape=PAPER, rows=rows),
                                                  indent=2))
    if args.launches:
        total, per, fixed, at = launches_per_step(30)
        print(f"\nVideoLSTM training step, T = 30: {total} launches of our kernels ({fixed} + 30 x {per}): "
              + ", ".join(f"{n} {v}" for n, v in at.items())
              + "; the CuPy array operations between them (sums, products, slices made contiguous, cuBLAS) are "
                "not counted here")
    return status


if __name__ == "__main__":
    run(main)
