"""The data-pipeline benchmark behind ``python -m tinyalstm.bench_data``: decoding throughput against ffmpeg
alone, optical-flow throughput and accuracy, and the peak memory of a feature-extraction pass as the number of
videos grows. Prints tables; asserts nothing (the tests check correctness).
"""
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np


def decode_table(tmp, frames=300, size=(240, 320), out_size=112):
    """Our reader (decode + scale + pipe + arrays) vs ``ffmpeg -i f -f null -`` on one generated XVID video."""
    import imageio_ffmpeg

    from ..data.video import decode_throughput
    path = Path(tmp) / "decode_bench.avi"
    H, W = size
    yy, xx = np.mgrid[0:H, 0:W]
    writer = imageio_ffmpeg.write_frames(str(path), (W, H), fps=25, codec="libxvid", quality=None,
                                         output_params=["-q:v", "3"], macro_block_size=1)
    writer.send(None)
    for t in range(frames):              # a moving texture so the encoder has real motion to code
        img = 127 + 60 * np.sin((xx - 2 * t) / 9.0)[..., None] * np.cos((yy + t) / 13.0)[..., None]
        writer.send(np.broadcast_to(img, (H, W, 3)).astype(np.uint8).copy())
    writer.close()
    res = decode_throughput(path, size=(out_size, out_size), repeats=3)
    print(f"\n## Decoding: {frames} frames of {W}x{H} XVID, read at {out_size}x{out_size} (best of 3)\n")
    print("| what | frames/s |\n| --- | --- |")
    print(f"| our reader (decode + scale + pipe + NumPy) | {res['reader_fps']:.0f} |")
    print(f"| ffmpeg decode + same scale, to null | {res['ffmpeg_scale_null_fps']:.0f} |")
    print(f"| ffmpeg decode only, to null | {res['ffmpeg_null_fps']:.0f} |")
    return res


def flow_table(sizes=(112, 224), seeds=5):
    """Pairs/s of the batched video flow, and mean endpoint error against the zero-flow baseline."""
    from ..data.flow import endpoint_error, flow_throughput, make_flow_pair, optical_flow
    print("\n## Optical flow (pyramidal Lucas-Kanade, defaults)\n")
    print("| size | pairs/s (video_flow, batched) |\n| --- | --- |")
    for s in sizes:
        print(f"| {s}x{s} | {flow_throughput(size=s, n=32):.0f} |")
    print("\n| kind (112 px) | magnitude | EPE | zero-flow EPE |\n| --- | --- | --- | --- |")
    for kind in ("translation", "object", "rotation", "zoom"):
        for mag in (0.5, 3.0):
            epe, zero = [], []
            for seed in range(seeds):
                prev, nxt, true = make_flow_pair(kind, size=112, rng=np.random.default_rng(seed), magnitude=mag)
                epe.append(endpoint_error(optical_flow(prev, nxt), true))
                zero.append(endpoint_error(np.zeros_like(true), true))
            print(f"| {kind} | {mag} px | {np.mean(epe):.3f} | {np.mean(zero):.3f} |")


def extraction_pass(root, cache, size):
    """One feature-extraction pass over every video of a generated dataset (child process) -> peak RSS (MiB)."""
    import resource

    from ..data.datasets import load_ucf101
    from ..data.features import extract_features
    from ..data.video import read_video
    from ..models.frame_encoder import FrameEncoder
    samples = [s for subset in ("train", "test") for s in load_ucf101(root, split=1, subset=subset)]
    enc = FrameEncoder(3, size, 8)
    items = [(s.name.rsplit(".", 1)[0], s.path) for s in samples]
    t0 = time.perf_counter()
    extract_features(items, lambda p: read_video(p, size=size), enc.features, cache, enc.feature_shape,
                     progress=False)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"videos": len(items), "seconds": time.perf_counter() - t0, "peak_rss_mib": peak}


def memory_table(tmp, groups=(2, 8), size=64):
    """Peak resident memory of a fresh process running a whole extraction pass, for datasets of growing size."""
    from ..data.synthetic import generate
    print(f"\n## Feature extraction: peak memory of one pass (fresh process, {size}x{size} RGB, frame encoder)\n")
    print("| videos | seconds | peak RSS (MiB) |\n| --- | --- | --- |")
    for g in groups:
        root, cache = Path(tmp) / f"syn{g}", Path(tmp) / f"cache{g}"
        generate(root, groups=g, clips=1, size=size)
        code = (f"import json; from tinyalstm.perf.data_pipeline import extraction_pass; "
                f"print(json.dumps(extraction_pass({str(root)!r}, {str(cache)!r}, {size})))")
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
        res = json.loads(out.stdout.strip().splitlines()[-1])
        print(f"| {res['videos']} | {res['seconds']:.1f} | {res['peak_rss_mib']:.0f} |")
