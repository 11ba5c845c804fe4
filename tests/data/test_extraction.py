"""tinyalstm.data.extraction without PyTorch: which rows a video gives (strided frames, flow images, padded
clips), how frames are decoded and cropped, and how each dataset's videos are keyed in the features layout. The
extraction itself, with networks, is tested in tests/test_extract.py and tests/data/test_pretrained.py."""
import math

import imageio_ffmpeg
import numpy as np
import pytest

from tinyalstm.data.datasets import Sample
from tinyalstm.data.extraction import (Sampling, class_folder, clips_of, dataset_videos, decode_size, feature_key,
                                       flow_rows, read_cropped, video_datasets)
from tinyalstm.data.flow import video_flow
from tinyalstm.data.hollywood2 import ACTIONS


def test_clips_are_non_overlapping_and_the_last_is_padded_with_the_last_frame():
    frames = np.broadcast_to(np.arange(10, dtype=np.uint8)[:, None, None, None], (10, 2, 2, 3)).copy()
    clips = clips_of(frames, 4)
    assert clips.shape == (3, 4, 2, 2, 3) and clips.dtype == np.uint8
    assert clips[:, :, 0, 0, 0].tolist() == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9, 9, 9]]
    assert clips_of(frames[:3], 16)[:, :, 0, 0, 0].tolist() == [[0, 1, 2] + [2] * 13]     # shorter than a clip
    assert clips_of(frames, 5).shape[0] == 2 and clips_of(frames, 1).shape[0] == 10


@pytest.mark.parametrize("stride", [1, 2, 3, 6, 9])
def test_flow_rows_are_the_whole_clips_flow_images_at_the_stride(stride):
    texture = np.random.default_rng(0).integers(0, 256, (8, 8, 3)).repeat(4, 0).repeat(4, 1).astype(np.uint8)
    frames = np.stack([np.roll(texture, t, axis=1) for t in range(7)])     # moving right, 1 px per frame
    want = video_flow(frames)[::stride]               # every pair, then the rows kept
    got = flow_rows(frames, stride)
    assert got.shape == (math.ceil(7 / stride), 32, 32, 2) and got.dtype == np.uint8
    # pairs computed one at a time rather than in a batch: equal up to a rounding step of the uint8 image
    assert np.abs(got.astype(int) - want).max() <= 1
    assert (got[..., 0] > 128).mean() > 0.5          # rightward flow: not the zero-motion image (128)
    assert flow_rows(frames[:1], stride).shape == (1, 32, 32, 2)


def test_decode_size_keeps_the_aspect_ratio_with_the_shorter_side_at_8_7_of_the_crop():
    assert decode_size(240, 320, 224) == (256, 341)           # UCF101's 320x240: torchvision's Resize(256)
    assert decode_size(320, 240, 224) == (341, 256)
    assert decode_size(240, 320, 112) == (128, 171)           # torchvision's R3D-18 transform: Resize((128, 171))
    assert decode_size(100, 100, 64) == (73, 73)


def _write_video(path, frames):
    w = imageio_ffmpeg.write_frames(str(path), (frames.shape[2], frames.shape[1]), fps=25, codec="libx264",
                                    macro_block_size=1, pix_fmt_out="yuv420p", ffmpeg_log_level="error",
                                    output_params=["-crf", "0"])
    w.send(None)
    for f in frames:
        w.send(np.ascontiguousarray(f))
    w.close()


def test_read_cropped_decodes_every_frame_and_keeps_the_centre(tmp_path):
    """A 96 x 48 video whose left and right 16 columns are black: a centre crop of the square sees white only."""
    frames = np.full((5, 48, 96, 3), 255, np.uint8)
    frames[:, :, :16] = frames[:, :, -16:] = 0
    _write_video(tmp_path / "wide.mp4", frames)
    out = read_cropped(Sample(str(tmp_path / "wide.mp4"), 0, "wide.mp4"), 32)
    assert out.shape == (5, 32, 32, 3) and out.dtype == np.uint8
    # decoded at 37 x 74 (decode_size), black in columns 0-12 and 61-73; the crop keeps columns 21-52
    assert out.min() > 200, "the crop is not centred: it reaches a black side"


def test_class_folders_are_single_words():
    assert class_folder("Ironing clothes") == "Ironing_clothes"
    assert class_folder("Rock-paper-scissors") == "Rock-paper-scissors"
    assert class_folder(" a  b/c\\d ") == "a_b_c_d"


def test_keys_name_the_class_folder_and_the_video():
    classes = ["ApplyEyeMakeup", "Ironing clothes"]
    ucf = Sample("/d/UCF-101/ApplyEyeMakeup/v_ApplyEyeMakeup_g08_c01.avi", 0,
                 "ApplyEyeMakeup/v_ApplyEyeMakeup_g08_c01.avi")
    assert feature_key(ucf, classes) == "ApplyEyeMakeup/v_ApplyEyeMakeup_g08_c01"
    anet = Sample("/d/videos/v_abc-_1.mp4", 1, "v_abc-_1/segment2", segment=(1.0, 2.0, 9.0))
    assert feature_key(anet, classes) == "Ironing_clothes/v_abc-_1_segment2"
    clip = Sample("/d/Hollywood2/AVIClips/actioncliptrain00007.avi", (0, 1), "actioncliptrain00007")
    assert feature_key(clip, classes, multilabel=True) == "AVIClips/actioncliptrain00007"


def test_activitynet_segments_keep_their_labels_and_the_missing_video_is_reported(activitynet_folder):
    videos = dataset_videos("activitynet", activitynet_folder)
    assert videos.classes == ["Archery", "Ironing clothes", "Surfing"] and not videos.multilabel
    train, test = videos.splits[1]
    assert sorted(test) == ["Archery/v_v1_segment0", "Ironing_clothes/v_v2_segment0", "Surfing/v_v0_segment0"]
    assert "Surfing/v_t0_segment0" in train and "Archery/v_t0_segment1" in train and len(train) == 7
    assert all(class_folder(videos.classes[videos.labels[k]]) == k.split("/")[0] for k in train + test)
    assert videos.report.names == ["v_gone/segment0"]


def test_hollywood2_clips_are_keyed_without_a_class(hollywood2_folder):
    root, labels = hollywood2_folder
    videos = dataset_videos("hollywood2", root)
    assert videos.multilabel and videos.classes == list(ACTIONS) and list(videos.splits) == [1]
    train, test = videos.splits[1]
    assert sorted(k.split("/")[1] for k in train + test) == sorted(labels)
    for key in train + test:
        assert key.startswith("AVIClips/")
        assert {ACTIONS[a] for a in videos.labels[key]} == labels[key.split("/")[1]]


def test_every_video_dataset_of_the_registry_can_be_extracted():
    assert set(video_datasets()) >= {"ucf101", "hmdb51", "hollywood2", "activitynet"}
    assert "features" not in video_datasets()


@pytest.mark.parametrize("field,value", [("size", 31), ("stride", 0), ("clip_size", 8), ("clip_length", 0),
                                         ("stride", 1.5)])
def test_sampling_options_are_checked(field, value):
    with pytest.raises(ValueError, match=field):
        Sampling(**{field: value}).check()
