"""The pipeline's pretraining stage (data/pipeline.py): it trains once and is then read from its cache, a damaged
cache file is redone, and the RGB maps of a run come from the encoder its ``rgb_encoder`` names."""
import numpy as np
import pytest

from tinyalstm.data import pipeline
from tinyalstm.data.synthetic import generate

SMALL = {"stills": 120, "epochs": 1, "seed": 0, "check_stills": 30}


def test_pretraining_is_cached_and_a_damaged_file_is_redone(tmp_path):
    said = []
    first = pipeline.pretrain_frame_encoder(32, (4, 8, 8), 32, log=said.append, cache=tmp_path, settings=SMALL)
    assert any("pretraining epoch 1/1" in line for line in said)
    assert any("of the object cells found" in line for line in said)
    files = list(tmp_path.glob("pretrained-*.npz"))
    assert len(files) == 1 and list(tmp_path.glob("*.avi")) == []
    said.clear()
    again = pipeline.pretrain_frame_encoder(32, (4, 8, 8), 32, log=said.append, cache=tmp_path, settings=SMALL)
    assert len(said) == 1 and "loaded from" in said[0]
    for k, v in first.blocks().items():
        np.testing.assert_array_equal(v, again.blocks()[k])
    files[0].write_bytes(b"not a zip file")
    said.clear()
    redone = pipeline.pretrain_frame_encoder(32, (4, 8, 8), 32, log=said.append, cache=tmp_path, settings=SMALL)
    assert str(files[0]) in said[0] and "pretraining again" in said[0]
    for k, v in first.blocks().items():           # same stills, same seed: the same weights
        np.testing.assert_array_equal(v, redone.blocks()[k])


def test_a_frame_size_of_no_whole_cells_draws_its_stills_a_little_larger(tmp_path):
    """A 30 px benchmark and 4 x 4 maps: the stills are drawn at 32 px, whole cells of 8 pixels."""
    said = []
    pipeline.pretrain_frame_encoder(32, (4, 8, 8), 30, log=said.append, cache=tmp_path, settings=SMALL)
    assert [p.name for p in tmp_path.glob("*.npz")] == [f"{pipeline.pretraining_tag(32, (4, 8, 8), 32, SMALL)}.npz"]
    assert "-r32-" in pipeline.pretraining_tag(32, (4, 8, 8), 30, SMALL)


@pytest.fixture(scope="module")
def tiny_benchmark(tmp_path_factory):
    root = tmp_path_factory.mktemp("bench") / "syn"
    generate(root, classes=3, groups=3, clips=1, frames=12, size=32, distractors=1, clutter=2)
    return root


def test_rgb_maps_come_from_the_named_encoder(tiny_benchmark, tmp_path, monkeypatch):
    """frozen: the maps are the pretrained encoder's features of the frames; finetuned: another encoder's (its
    ConvNet baseline is trained from the pretrained weights); scratch: no pretraining at all."""
    monkeypatch.setattr(pipeline, "PRETRAINING", SMALL)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    said = []
    data = {}
    for how in ("frozen", "finetuned", "scratch"):
        data[how] = pipeline.load_data("synthetic", tiny_benchmark, 1, ["rgb"], work=tmp_path / "work", size=32,
                                       encoder_epochs=1, log=said.append, rgb_encoder=how)
    pretrained = pipeline.pretrain_frame_encoder(32, pipeline.ENCODER_WIDTHS, 32, log=said.append,
                                                 cache=tmp_path / "cache" / "tinyalstm" / "pretrained")
    key = data["frozen"].train[0][0]
    frames = np.load(tmp_path / "work" / "frames" / "rgb" / "32px" / f"{key}.npy")
    maps = {how: np.load(d.roots["rgb"] / f"{key}.npy") for how, d in data.items()}
    np.testing.assert_allclose(maps["frozen"], np.asarray(pretrained.features(frames)), rtol=2e-3, atol=2e-3)
    assert not np.allclose(maps["finetuned"], maps["frozen"], atol=1e-2)
    assert len({str(d.roots["rgb"]) for d in data.values()}) == 3
    assert sum("pretraining epoch" in line for line in said) == 1       # one pretraining serves both
    with pytest.raises(ValueError, match="rgb_encoder: expected one of finetuned, frozen, scratch"):
        pipeline.load_data("synthetic", tiny_benchmark, 1, ["rgb"], work=tmp_path / "work", size=32,
                           rgb_encoder="imagenet")
