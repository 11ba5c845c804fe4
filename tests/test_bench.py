"""The benchmark (python -m tinyalstm.bench, tinyalstm/perf/): the CLI prints a row per model on a tiny config,
runs without torch, its FLOP count matches the convolutions and matrix products the models actually perform (the
GEMM shapes of the step-by-step path, the FLOPs of the fused CPU path), the GEMM ceiling runs those products, the
timed steps are interleaved, and the PyTorch peer computes the same function as tinyalstm (skipped where torch is
not installed, e.g. CI)."""
import subprocess
import sys
from collections import Counter

import numpy as np
import pytest

from tinyalstm import bench
from tinyalstm.models import base
from tinyalstm.perf import flops, peer_check, steps, timing

TINY = ["--config", "tiny", "--repeats", "1", "--device", "cpu"]


def _table_rows(text):
    """The data rows of the printed Markdown table, each a dict keyed by the header's column names."""
    lines = [ln for ln in text.splitlines() if ln.startswith("|")]
    header = [c.strip() for c in lines[0].strip("|").split("|")]
    return [dict(zip(header, (c.strip() for c in ln.strip("|").split("|")))) for ln in lines[2:]]


def _check_rows(text):
    rows = _table_rows(text)
    assert [r["model"] for r in rows] == list(steps.BENCH_MODELS), text
    for r in rows:
        assert r["config"] == "tiny" and r["device"] == "cpu" and r["dtype"] == "float32"
        assert float(r["ours ms/step"]) > 0
        assert float(r["GFLOP/step"]) > 0
        assert float(r["GEMMs ms/step"]) > 0 and float(r["ceiling GFLOP/s"]) > 0
        # the percentage is ours over the ceiling (both printed to 3 significant digits, hence the tolerance)
        pct = 100 * float(r["ours GFLOP/s"]) / float(r["ceiling GFLOP/s"])
        assert abs(int(r["ours % of ceiling"]) - pct) <= 1 + 0.02 * pct, r
    return rows


def test_cli_tiny_no_torch():
    """The real command line, in a child process: one row per model, positive times, no peer columns."""
    proc = subprocess.run([sys.executable, "-m", "tinyalstm.bench", *TINY, "--no-torch"], capture_output=True,
                          text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    rows = _check_rows(proc.stdout)
    assert all(r["torch ms/step"] == "-" and r["ours/torch"] == "-" for r in rows)
    assert "torch peer: off (--no-torch)" in proc.stdout
    assert "[bench]" in proc.stderr and "[bench]" not in proc.stdout      # progress on stderr, report on stdout


def test_runs_without_torch(monkeypatch, capsys):
    """With torch not importable (None in sys.modules makes ``import torch`` raise ImportError) the bench says so
    and still times our models."""
    monkeypatch.setitem(sys.modules, "torch", None)
    assert bench.main(TINY) == 0
    out = capsys.readouterr().out
    assert "torch not importable: peer skipped" in out
    _check_rows(out)


def test_the_benchmarked_models_are_the_convolutional_recurrences():
    """The models timed, read from the registry: ConvLSTM and the two built on it, in the registry's order."""
    assert steps.BENCH_MODELS == ("convlstm", "convalstm", "videolstm")


def test_flop_count_by_hand():
    """ConvLSTM at the tiny config (B=2, T=6, N=5, C=4, K=7, 3x3, 11 classes, FC 8), counted by hand."""
    init = 2 * (2 * 2 * 25 * 7 * 4 * 9)                                  # h0, c0: 2 B N^2 K C k^2 each
    gates = 6 * (2 * 2 * 25 * 28 * 4 * 9 + 2 * 2 * 25 * 28 * 7 * 9)      # T x (input + recurrent), 4K = 28 outputs
    head = 2 * 12 * 175 * 8 + 2 * 12 * 8 * 11                            # B T = 12 rows: (K N^2 = 175) x 8, 8 x 11
    assert flops.step_flops("convlstm", steps.CONFIGS["tiny"]) == 3 * (init + gates + head) == 5247936


def _expanded(gemms):
    """forward_gemms as a multiset of (rows, inner, cols) shapes, one per call."""
    return Counter({(g.rows, g.inner, g.cols): 0 for g in gemms}) + Counter(
        [(g.rows, g.inner, g.cols) for g in gemms for _ in range(g.count)])


def _run_counting(name, monkeypatch, fused):
    """One float64 loss_and_input_grads of ``name`` at the tiny config, with conv2d_forward in every tinyalstm
    module, the fused path's conv_gemm and the head's affine_forward wrapped: -> the (rows, inner, cols) GEMM of
    every call, the fused path's included."""
    monkeypatch.setenv("TINYALSTM_FUSED", "1" if fused else "0")
    shapes = []

    def counting_conv(original):
        def conv(x, w, b=None):
            shapes.append((w.shape[0], w[0].size, x.shape[0] * x.shape[2] * x.shape[3]))
            return original(x, w, b)
        return conv

    def counting_gemm(original):
        def gemm(w2, cols, out=None):
            shapes.append((w2.shape[0], w2.shape[1], cols.size // cols.shape[0]))
            return original(w2, cols, out)
        return gemm

    def counting_affine(original):
        def affine(x, w, b):
            shapes.append((x.size // x.shape[-1], *w.shape))
            return original(x, w, b)
        return affine

    for mod in [m for key, m in sys.modules.items() if key.startswith("tinyalstm.") and m is not None]:
        if hasattr(mod, "conv2d_forward"):
            monkeypatch.setattr(mod, "conv2d_forward", counting_conv(mod.conv2d_forward))
        if hasattr(mod, "conv_gemm"):      # the fused path's modules (tinyalstm.fused)
            monkeypatch.setattr(mod, "conv_gemm", counting_gemm(mod.conv_gemm))
    monkeypatch.setattr(base, "affine_forward", counting_affine(base.affine_forward))   # the head
    cfg = steps.CONFIGS["tiny"]
    with timing.on_device("cpu"):
        model = steps.model_at(name, cfg, np.float64)
        X, y, M = steps.make_inputs(cfg, model.reads_second, np.float64)
        model.loss_and_input_grads(X, y, M)
    return shapes


@pytest.mark.parametrize("name", list(steps.BENCH_MODELS))
def test_gemm_shapes_are_the_step_by_step_calls(name, monkeypatch):
    """forward_gemms lists exactly the (K, C kh kw, B H W) GEMM of every conv2d_forward call the step-by-step path
    makes and the (rows, D, M) of the head's affine_forward calls (the shapes the GEMM ceiling times)."""
    shapes = _run_counting(name, monkeypatch, fused=False)
    assert shapes, "no convolution was counted: the wrappers missed the model's calls"
    assert Counter(shapes) == _expanded(flops.forward_gemms(name, steps.CONFIGS["tiny"]))


@pytest.mark.parametrize("name", list(steps.BENCH_MODELS))
def test_flop_count_matches_the_fused_calls(name, monkeypatch):
    """The fused CPU path makes fewer, larger GEMMs (stacked kernels, every step at once) of the same FLOPs:
    forward_flops equals 2*rows*inner*cols summed over its conv_gemm and head calls."""
    shapes = _run_counting(name, monkeypatch, fused=True)
    assert len(shapes) < sum(g.count for g in flops.forward_gemms(name, steps.CONFIGS["tiny"]))
    assert sum(2 * m * k * n for m, k, n in shapes) == sum(flops.forward_flops(name, steps.CONFIGS["tiny"]).values())


@pytest.mark.parametrize("name", list(steps.BENCH_MODELS))
def test_gemm_ceiling_runs_the_steps_products(name, monkeypatch):
    """gemm_step runs, for every forward GEMM (m, k) x (k, n), count times the forward product and its two
    backward products (m, n) x (n, k) and (k, m) x (m, n): 3x the forward FLOPs, the step's own count."""
    calls = []

    class Counting:                       # the array module as gemm_step sees it: NumPy, with matmul counted
        asarray = staticmethod(np.asarray)

        @staticmethod
        def matmul(a, b):
            calls.append((a.shape, b.shape))
            return np.matmul(a, b)

    monkeypatch.setattr(steps.backend, "xp", lambda: Counting)
    cfg = steps.CONFIGS["tiny"]
    steps.gemm_step(name, cfg, np.float32)()
    assert all(a[1] == b[0] for a, b in calls)
    assert sum(2 * a[0] * a[1] * b[1] for a, b in calls) == flops.step_flops(name, cfg)
    forward = Counter((a[0], a[1], b[1]) for a, b in calls[::3])
    assert forward == _expanded(flops.forward_gemms(name, cfg))


def test_timed_steps_are_interleaved():
    """interleaved_medians: one warm-up of each, then rounds running each step once, in turn; medians by label."""
    order, clock = [], iter(range(100))
    timed = {label: ((lambda label=label: order.append(label)), lambda: next(clock)) for label in "abc"}
    medians = timing.interleaved_medians(timed, repeats=3)
    assert order == list("abc") * 4
    assert set(medians) == set("abc") and all(t > 0 for t in medians.values())


@pytest.mark.parametrize("name", list(steps.BENCH_MODELS))
def test_peer_computes_the_same_function(name):
    pytest.importorskip("torch")
    worst = peer_check.verify_peer(name)
    assert worst["loss"] <= 1e-9
    assert worst["grads"] <= 1e-8 and worst["inputs"] <= 1e-8


def test_verify_peer_catches_a_different_peer(monkeypatch):
    """The check can fail: a peer whose gates are read in the order i, f, g, o is rejected."""
    pytest.importorskip("torch")
    import torch

    from tinyalstm.perf import torch_peer as peer

    def wrong_cell(a, prev_c):
        i, f, g, o = a.chunk(4, dim=1)
        next_c = torch.sigmoid(f) * prev_c + torch.sigmoid(i) * torch.tanh(g)
        return torch.sigmoid(o) * torch.tanh(next_c), next_c

    monkeypatch.setattr(peer, "cell", wrong_cell)
    with pytest.raises(AssertionError, match="different function"):
        peer_check.verify_peer("convlstm")
