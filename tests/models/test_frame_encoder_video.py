"""The frame encoder trained on real decoded videos of the synthetic benchmark (the ConvNet baseline's pipeline):
on flow images it tells MoveLeft from MoveRight on held-out groups; corrupt videos are skipped and reported."""
import numpy as np

from tinyalstm.data import datasets, flow, synthetic, video
from tinyalstm.models.frame_encoder import FrameEncoder, train_frame_encoder, video_baseline
from tinyalstm.optim import RMSprop


def test_flow_frame_encoder_learns_motion_direction(tmp_path):
    synthetic.generate(tmp_path, classes=["MoveLeft", "MoveRight"], groups=6, clips=3, frames=20, size=32,
                       distractors=1, clutter=2)
    bad = tmp_path / "UCF-101" / "MoveLeft" / "v_MoveLeft_g06_c03.avi"
    bad.write_bytes(b"\x00" * 100)                       # a corrupt video in the training list
    train = datasets.load_ucf101(tmp_path, 1, "train").samples
    test = datasets.load_ucf101(tmp_path, 1, "test").samples
    cache = {}

    def flow_images(sample):
        if sample.path not in cache:
            cache[sample.path] = flow.video_flow(video.read_video(sample.path))
        return cache[sample.path]

    report = datasets.SkipReport()
    enc = FrameEncoder(2, 32, 2, widths=(8, 16, 16), dropout=0.5, seed=0)
    train_frame_encoder(enc, train, flow_images, RMSprop(lr=1e-3), 15, np.random.default_rng(0), per_video=8,
                        batch=32, report=report)
    assert set(report.names) == {"MoveLeft/v_MoveLeft_g06_c03.avi"}
    acc, probs = video_baseline(enc, test, flow_images)
    assert probs.shape == (len(test), 2)
    print(f"held-out video accuracy {acc:.3f}")
    assert acc >= 0.8, acc                               # chance 0.5; held-out groups
