"""Every CUDA kernel compiled for real GPUs (sm_80 and sm_90, float32 and float64) by NVIDIA's numba-cuda
compiler, assembled by ptxas and read from its SASS: no GPU is needed. The simulator tests check the numbers;
these check that the code is real CUDA written for the machine.

A kernel fails here when it does not compile, when ptxas spills registers or gives it a stack frame, when its
float32 code holds a double-precision instruction, when a loop divides, and (the gate convolution) when its main
loop issues FFMA less than half of the time. Each of these was seen to fail on a kernel changed to break it.
"""
import functools

import pytest

from tinyalstm.perf import kernels as report

CCS = (80, 90)
DTYPES = ("float32", "float64")
NAMES = sorted(report.kernels())


@functools.lru_cache(maxsize=None)
def analysed(name, dtype, cc):
    return report.analyse(report.kernels()[name], dtype, cc)


def test_every_launched_kernel_is_checked():
    """The five kernels the layers launch (a new kernel module must register its kernels to be launched)."""
    assert NAMES == ["conv2d_gemm", "lstm_pointwise_backward", "lstm_pointwise_forward", "spatial_softmax_backward",
                     "spatial_softmax_forward"]


@pytest.mark.parametrize("cc", CCS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", NAMES)
def test_kernel_compiles_without_spills_or_fp64(name, dtype, cc):
    row = analysed(name, dtype, cc)
    c = row.compiled
    assert c.registers > 0 and row.whole["instructions"] > 0
    assert c.spill_stores == 0 and c.spill_loads == 0 and c.stack == 0, (
        f"{name} {dtype} sm_{cc}: {c.spill_stores} B spill stores, {c.spill_loads} B spill loads, "
        f"{c.stack} B stack")
    if dtype == "float32":
        fp64 = [t for _, op, t, _ in c.sass if report.is_fp64(op)]
        assert not fp64, f"{name} float32 sm_{cc}: {len(fp64)} FP64 instructions, e.g. {fp64[:3]}"
    else:   # the float64 build really computes in float64 (the check above can see FP64 instructions)
        assert row.whole["fp64"] > 0
    assert row.loop_divisions == 0, f"{name} {dtype} sm_{cc}: {row.loop_divisions} integer divisions in loops"
    assert row.blocks_per_sm >= 1, f"{name}: does not fit on an SM"


@pytest.mark.parametrize("cc", CCS)
def test_gate_convolution_main_loop_is_ffma(cc):
    """The implicit GEMM's slice loop: at least half of its instructions FFMA (on an H100, with cuBLAS at 75-80 %
    of FP32 peak, that allows 60 % of cuBLAS; an A100's 64 FP32 lanes per SM take an FFMA every other cycle, so
    there half is the whole peak), 128-bit shared loads, no more than 1 shared load per 8 FFMA."""
    row = analysed("conv2d_gemm", "float32", cc)
    lp = row.loop
    assert row.has_loop and lp["ffma"] == 512, lp            # one unrolled slice: 8 steps x 8 x 8 outputs
    assert row.ffma_share >= 0.5, f"FFMA share {row.ffma_share:.2f} of {lp['instructions']} instructions"
    assert row.bound == (min(1.0, 2 * row.ffma_share) if cc == 80 else row.ffma_share)
    assert lp["shared_loads"] * 8 <= lp["ffma"], lp
    assert lp["shared_load_words"] == 4 * lp["shared_loads"], "shared loads are not all 128-bit"


SASS = """
        /*0000*/                   MOV R1, c[0x0][0x28] ;
.L_x_0:
        /*0010*/                   LDS.128 R4, [R2] ;
        /*0020*/                   FFMA R8, R4, R5, R8 ;
        /*0030*/                   DADD R10, R10, R12 ;
        /*0040*/                   I2F.U32.RP R3, R6 ;
        /*0050*/               @P0 BRA `(.L_x_0) ;
        /*0060*/                   F2F.F64.F32 R10, R3 ;
        /*0070*/                   CALL.REL.NOINC `($__internal_1_$__cuda_sm20_div_s64) ;
        /*0080*/                   DEPBAR.LE SB0, 0x0 ;
        /*0090*/                   EXIT ;
"""


def test_sass_reading_on_a_known_listing():
    """The parser, loop finder and counters on a hand-written listing with known answers: one loop 0x10-0x50
    (5 instructions: 1 FFMA, 1 LDS.128, 1 FP64, 1 inline division), and outside it one FP64 conversion and one
    64-bit division call; DEPBAR is not FP64."""
    sass = report.parse_sass(SASS)
    assert [op for _, op, _, _ in sass][:3] == ["MOV", "LDS.128", "FFMA"]
    assert report.loops(sass) == [(0x10, 0x50)]
    span, body = report.main_loop(sass)
    assert span == (0x10, 0x50)
    assert report.mix(body) == dict(instructions=5, ffma=1, shared_loads=1, shared_load_words=4, global_loads=0,
                                    fp64=1, divisions=1)
    whole = report.mix(sass)
    assert whole["fp64"] == 2 and whole["divisions"] == 2 and whole["instructions"] == 10


def test_occupancy_from_the_sm_limits():
    """H100: 65,536 registers per SM allocated per warp in units of 256, 2,048 threads, 228 KB of shared memory.
    128 registers x 256 threads = 32,768 per block: 2 blocks, 16 of 64 warps. 32 registers: the 2,048-thread limit
    (8 blocks of 256). 100 KB of shared memory: 2 blocks."""
    assert report.occupancy(128, 8320, 256, 90) == (2, 0.25)
    assert report.occupancy(32, 0, 256, 90) == (8, 1.0)
    assert report.occupancy(32, 100 * 1024, 256, 90) == (2, 0.25)
    assert report.occupancy(126, 0, 256, 90) == (2, 0.25)     # 126 rounds up to 128 per thread
