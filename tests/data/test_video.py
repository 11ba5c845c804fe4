"""tinyalstm.data.video: decoding real (tiny) AVI files written with imageio-ffmpeg, sampling, and damaged files.

The test videos encode what they contain: in "ramp" videos frame i has red level 16 + 12 i over the whole frame
(so a decoded frame's index can be read back from its mean red, mpeg4 keeps it within a few levels), and the
left half is blue, the right half is not (so a resize that flipped or transposed the frame would show).
"""
import inspect
import os
import shutil
import struct
import subprocess
import sys
import time

import imageio_ffmpeg
import numpy as np
import pytest

from tinyalstm.data import video, windows
from tinyalstm.data.video import VideoError, VideoWarning

W, H, N = 32, 24, 20


def ramp_frame(i, w=W, h=H):
    f = np.zeros((h, w, 3), np.uint8)
    f[..., 0] = 16 + 12 * i
    f[..., 1] = 60
    f[:, : w // 2, 2] = 200
    return f


def write_avi(path, frames, codec="mpeg4"):
    h, w = frames[0].shape[:2]
    writer = imageio_ffmpeg.write_frames(str(path), (w, h), fps=25, codec=codec, macro_block_size=1,
                                         ffmpeg_log_level="error")
    writer.send(None)
    for f in frames:
        writer.send(np.ascontiguousarray(f))
    writer.close()
    return str(path)


def frame_ids(frames):
    """Read each frame's index back from its mean red level (inverse of ramp_frame)."""
    red = frames[..., 0].reshape(-1, frames.shape[-3] * frames.shape[-2]).mean(axis=1)
    ids = np.rint((red - 16) / 12).astype(int)
    assert np.all(np.abs(red - (16 + 12 * ids)) < 5), f"red levels {red} are not on the ramp"
    return ids.reshape(frames.shape[:-3])


@pytest.fixture(scope="session")
def clips(tmp_path_factory):
    d = tmp_path_factory.mktemp("clips")
    rng = np.random.default_rng(0)
    c = {
        "ramp": write_avi(d / "ramp.avi", [ramp_frame(i) for i in range(N)]),
        "xvid": write_avi(d / "ramp_xvid.avi", [ramp_frame(i) for i in range(N)], codec="libxvid"),
        "short": write_avi(d / "short.avi", [ramp_frame(i) for i in range(5)]),
        # noise makes the frames big, so that cutting the file in half cuts the frame data, not the header
        "noisy": write_avi(d / "noisy.avi", [rng.integers(0, 256, (48, 64, 3), dtype=np.uint8) for _ in range(30)]),
    }
    data = open(c["noisy"], "rb").read()
    (d / "cut_half.avi").write_bytes(data[: len(data) // 2])
    (d / "cut_header.avi").write_bytes(data[:300])
    (d / "cut_before_frames.avi").write_bytes(data[: data.index(b"movi") + 4])   # a whole header, no frame
    (d / "random.avi").write_bytes(rng.integers(0, 256, 20000, dtype=np.uint8).tobytes())
    (d / "empty.avi").write_bytes(b"")
    (d / "text.avi").write_text("not a video\n")
    (d / "a_folder.avi").mkdir()
    subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-f", "lavfi", "-i", "sine=d=0.3",
                    str(d / "audio_only.avi")], check=True, stdin=subprocess.DEVNULL)
    # a one-second gap in the timestamps after frame 5 (variable frame rate): a constant-rate reader would invent
    # 25 duplicate frames to fill it
    for ext in ("mkv", "avi"):
        subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-i", c["ramp"], "-vf",
                        "setpts=N/25/TB+gte(N\\,5)/TB", "-c:v", "mpeg4", "-fps_mode", "passthrough",
                        str(d / f"gap.{ext}")], check=True, stdin=subprocess.DEVNULL)
        c[f"gap_{ext}"] = str(d / f"gap.{ext}")
    c.update({k: str(d / f"{k}.avi") for k in ["cut_half", "cut_header", "cut_before_frames", "random", "empty",
                                                "text", "a_folder", "audio_only"]})
    c["missing"] = str(d / "missing.avi")
    return c


# ---------------------------------------------------------------------------------------------------------------
# frame counts, decoding, resizing
# ---------------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name, n", [("ramp", N), ("xvid", N), ("short", 5), ("noisy", 30)])
def test_count_frames_matches_frames_written(clips, name, n):
    assert video.count_frames(clips[name]) == n
    assert len(video.read_video(clips[name], size=(8, 8))) == n


def test_count_ignores_a_lying_header(clips, tmp_path):
    # AVI main header (RIFF, LIST hdrl, 'avih' chunk): dwTotalFrames is the 5th DWORD of avih's data, byte 48.
    # The stream header 'strh' has dwLength (frames) at byte 32 of its data. Make both claim 999 frames.
    data = bytearray(open(clips["ramp"], "rb").read())
    assert data[24:28] == b"avih" and struct.unpack_from("<I", data, 48)[0] == N, "not the AVI layout expected"
    struct.pack_into("<I", data, 48, 999)
    strh = data.index(b"strh") + 8
    assert struct.unpack_from("<I", data, strh + 32)[0] == N
    struct.pack_into("<I", data, strh + 32, 999)
    liar = tmp_path / "liar.avi"
    liar.write_bytes(bytes(data))
    assert video.count_frames(liar) == N
    assert frame_ids(video.read_video(liar)).tolist() == list(range(N))


@pytest.mark.parametrize("name", ["gap_mkv", "gap_avi"])
def test_frames_are_decoded_pictures_not_timestamps(clips, name):
    assert video.count_frames(clips[name]) == N
    assert frame_ids(video.read_video(clips[name], size=(8, 8))).tolist() == list(range(N))


@pytest.mark.parametrize("name", ["ramp", "xvid"])
def test_read_video_native_size(clips, name):
    frames = video.read_video(clips[name])
    assert frames.shape == (N, H, W, 3) and frames.dtype == np.uint8
    assert frame_ids(frames).tolist() == list(range(N))
    assert frames[:, :, : W // 2 - 2, 2].min() > 170 and frames[:, :, W // 2 + 2:, 2].max() < 40


@pytest.mark.parametrize("size, hw", [((12, 16), (12, 16)), ((48, 20), (48, 20)), (8, (8, 8))])
def test_resize_by_ffmpeg(clips, size, hw):
    frames = video.read_video(clips["ramp"], size=size)
    h, w = hw
    assert frames.shape == (N, h, w, 3)
    assert frame_ids(frames).tolist() == list(range(N))
    # left half blue, right half not: the resize kept the frame's orientation (H and W not swapped)
    assert frames[:, :, : w // 2 - 1, 2].mean() > 150 and frames[:, :, w // 2 + 1:, 2].mean() < 50
    assert video.frame_size(clips["ramp"]) == (H, W)


@pytest.mark.parametrize("size", [(0, 8), (8,), "8x8", (8.5, 8), -3])
def test_bad_size_is_rejected(clips, size):
    with pytest.raises(ValueError, match="size"):
        video.read_video(clips["ramp"], size=size)


def test_iter_frames_streams_and_stops_early(clips):
    gen = video.iter_frames(clips["ramp"], size=(12, 16))
    assert inspect.isgenerator(gen)
    first = [next(gen) for _ in range(3)]
    gen.close()                                       # must stop ffmpeg, not wait for the rest
    assert frame_ids(np.stack(first)).tolist() == [0, 1, 2]
    first[0][0, 0, 0] = 1                             # frames are ordinary writable arrays


def test_read_windows_returns_exactly_the_named_frames(clips):
    windows = np.array([[0, 1, 2, 3], [7, 8, 9, 10], [16, 17, 19, 19]])
    frames = video.read_windows(clips["ramp"], windows, size=(12, 16))
    assert frames.shape == (3, 4, 12, 16, 3)
    assert frame_ids(frames).tolist() == windows.tolist()
    one = video.read_windows(clips["ramp"], np.array([5, 5, 2]))
    assert frame_ids(one).tolist() == [5, 5, 2]


def test_read_windows_past_the_end_names_the_file(clips):
    with pytest.raises(VideoError, match="only 5 decodable frames") as e:
        video.read_windows(clips["short"], np.arange(3, 8))
    assert clips["short"] in str(e.value)
    with pytest.raises(ValueError, match="windows"):
        video.read_windows(clips["short"], np.array([-1, 0]))


def test_short_video_is_padded_with_its_last_frame(clips):
    T = 8
    n = video.count_frames(clips["short"])
    idx = windows.train_window(n, T, np.random.default_rng(0))
    assert frame_ids(video.read_windows(clips["short"], idx)).tolist() == [0, 1, 2, 3, 4, 4, 4, 4]
    win = windows.test_windows(n, T, n_windows=3)
    assert frame_ids(video.read_windows(clips["short"], win)).tolist() == [[0, 1, 2, 3, 4, 4, 4, 4]] * 3


# ---------------------------------------------------------------------------------------------------------------
# damaged and wrong files: always a VideoError naming the file and the problem
# ---------------------------------------------------------------------------------------------------------------

BAD = [
    ("missing", "file not found"),
    ("a_folder", "not a regular file"),
    ("empty", r"empty file \(0 bytes\)"),
    ("random", "cannot open it: not a video, or corrupt"),
    ("text", "cannot open it: not a video"),
    ("cut_header", "corrupt/truncated in its header"),
    ("cut_before_frames", r"0 frames decoded \(truncated or corrupt"),
    ("audio_only", "no video stream"),
]


@pytest.mark.parametrize("name, problem", BAD)
@pytest.mark.parametrize("call", ["count_frames", "read_video", "read_windows", "iter_frames"])
def test_bad_files_raise_a_clear_error(clips, name, problem, call):
    path = clips[name]
    fn = {"count_frames": video.count_frames, "read_video": lambda p: video.read_video(p, (8, 8)),
          "read_windows": lambda p: video.read_windows(p, np.arange(3)),
          "iter_frames": lambda p: list(video.iter_frames(p))}[call]
    with pytest.raises(VideoError, match=problem) as e:
        fn(path)
    assert str(e.value).startswith(path + ":") and e.value.path == path


def test_missing_file_fails_at_the_call_not_at_first_frame(clips):
    with pytest.raises(VideoError, match="file not found"):
        video.iter_frames(clips["missing"])


def test_unreadable_file(clips, tmp_path):
    locked = tmp_path / "locked.avi"
    shutil.copy(clips["ramp"], locked)
    os.chmod(locked, 0)
    try:
        if os.access(locked, os.R_OK):
            pytest.skip("running as a user who can read a mode-000 file (root)")
        with pytest.raises(VideoError, match="unreadable") as e:
            video.count_frames(locked)
        assert str(locked) in str(e.value)
    finally:
        os.chmod(locked, 0o644)


def test_unreadable_file_simulated(clips, monkeypatch):
    # the same path for root, who can read anything: make opening the file fail as it would for another user
    real_open = open

    def no_permission(path, *a, **k):
        if str(path) == clips["ramp"]:
            raise PermissionError(13, "Permission denied", str(path))
        return real_open(path, *a, **k)

    monkeypatch.setattr("builtins.open", no_permission)
    with pytest.raises(VideoError, match=r"unreadable \(Permission denied\)") as e:
        video.read_video(clips["ramp"])
    assert clips["ramp"] in str(e.value)


def test_truncated_video_gives_the_frames_before_the_cut(clips):
    full = video.read_video(clips["noisy"])
    with pytest.warns(VideoWarning, match="cut_half.avi: decoding errors"):
        cut = video.read_video(clips["cut_half"])
    n = len(cut)
    assert 1 <= n < 30
    # every frame before the last equals the intact file's; the last may be partly concealed
    assert np.array_equal(cut[: n - 1], full[: n - 1])
    with pytest.warns(VideoWarning):
        assert video.count_frames(clips["cut_half"]) == n


def test_truncated_video_in_strict_mode_is_an_error(clips):
    for fn in (video.count_frames, video.read_video):
        with pytest.raises(VideoError, match="decoding errors") as e:
            fn(clips["cut_half"], strict=True)
        assert clips["cut_half"] in str(e.value)


def test_watchdog_kills_a_stalled_process():
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    dog = video._Watchdog(proc, timeout=0.2)
    dog.waiting = time.monotonic()                   # as if a read had been waiting since now
    try:
        assert proc.wait(timeout=5) != 0 and dog.fired
    finally:
        dog.stop()
        proc.kill()
        proc.wait()


def test_decode_throughput_reports_consistent_numbers(clips):
    r = video.decode_throughput(clips["ramp"], size=(16, 16), repeats=1)
    assert r["frames"] == N and r["size"] == (16, 16)
    for k in ["reader", "ffmpeg_null", "ffmpeg_scale_null"]:
        assert r[f"{k}_s"] > 0 and abs(r[f"{k}_fps"] * r[f"{k}_s"] - N) < 1e-6
