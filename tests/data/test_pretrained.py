"""tinyalstm.data.pretrained: each feature equals torchvision's own network, with the same weights, cut at the
named layer and fed the documented normalisation (computed here independently, from torchvision's published
transform constants and TSN's flow normalisation); the flow network's first layer is the cross-modality average;
weights come from the torch hub cache or a file, and are never downloaded. Tiny frames (32 px) keep this fast.
Skipped where PyTorch is not installed (the ``features`` extra), except the NumPy-only checks."""
import copy

import numpy as np
import pytest

from tinyalstm.data.pretrained import (WEIGHTS_URLS, Encoder, ExtractionError, cross_modality, feature_shape,
                                       weights_file)


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_cross_modality_averages_the_rgb_filters_and_replicates_them_to_two_channels():
    w = np.random.default_rng(0).normal(size=(4, 3, 3, 3))
    out = cross_modality(w)
    assert out.shape == (4, 2, 3, 3)
    for c in range(2):
        np.testing.assert_allclose(out[:, c], (w[:, 0] + w[:, 1] + w[:, 2]) / 3)
    with pytest.raises(ValueError, match="K, 3, kh, kw"):
        cross_modality(w[:, :2])


def test_feature_shapes():
    assert feature_shape("pool5", 224) == (512, 7, 7) and feature_shape("flow-pool5", 64) == (512, 2, 2)
    assert feature_shape("fc6", 224) == feature_shape("fc7", 32) == (4096,) and feature_shape("fc8", 224) == (1000,)
    assert feature_shape("r3d", 112) == (512,) and feature_shape("r3d-fc", 112) == (400,)


@pytest.fixture(scope="module")
def tv():
    torch = pytest.importorskip("torch")
    return torch, pytest.importorskip("torchvision")


@pytest.fixture(scope="module")
def vgg(tv):
    """torchvision's VGG-16, randomly initialised after torch.manual_seed(0): what --random-weights documents."""
    torch, torchvision = tv
    torch.manual_seed(0)
    return torchvision.models.vgg16().eval()


def _frames(channels, n=2, size=32, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (n, size, size, channels), dtype=np.uint8)


def _vgg_reference(torch, net, x, layer):
    """What VGG-16 gives at ``layer`` for a normalised NCHW input, from torchvision's module as it is."""
    with torch.no_grad():
        maps = net.features(x)
        if layer == "pool5":
            return maps
        flat = torch.flatten(net.avgpool(maps), 1)
        return net.classifier[:{"fc6": 2, "fc7": 5, "fc8": 7}[layer]](flat)


def test_torchvision_names_the_weights_files_we_look_for(tv):
    _, torchvision = tv
    assert WEIGHTS_URLS["vgg16"] == torchvision.models.VGG16_Weights.DEFAULT.url
    assert WEIGHTS_URLS["r3d18"] == torchvision.models.video.R3D_18_Weights.DEFAULT.url


def _rgb_input(torch, torchvision, frames):
    t = torchvision.models.VGG16_Weights.DEFAULT.transforms()      # ImageNet's mean and std, as published
    x = torch.from_numpy(frames).permute(0, 3, 1, 2).float() / 255
    return (x - torch.tensor(t.mean)[:, None, None]) / torch.tensor(t.std)[:, None, None]


def _flow_reference(torch, net, flow, layer):
    """The flow network by hand: TSN's normalisation, the first layer's RGB filters averaged per output filter."""
    x = (torch.from_numpy(flow).permute(0, 3, 1, 2).float() / 255 - 0.5) / 0.226
    w = net.features[0].weight.mean(1, keepdim=True).repeat(1, 2, 1, 1)
    with torch.no_grad():
        first = torch.nn.functional.conv2d(x, w, net.features[0].bias, padding=1)
        maps = net.features[1:](first)
        if layer == "pool5":
            return maps
        return net.classifier[:{"fc6": 2, "fc7": 5, "fc8": 7}[layer]](torch.flatten(net.avgpool(maps), 1))


@pytest.mark.parametrize("layer", ["pool5", "fc6", "fc7", "fc8"])
def test_random_weight_vgg_features_equal_torchvisions_network(tv, vgg, layer):
    torch, torchvision = tv
    frames, flow = _frames(3), _frames(2, seed=1)
    got = Encoder(layer)(frames)
    want = _vgg_reference(torch, vgg, _rgb_input(torch, torchvision, frames), layer).numpy()
    assert got.shape == (2, *feature_shape(layer, 32)) and got.dtype == np.float32
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5 * np.abs(want).max())
    got = Encoder(f"flow-{layer}")(flow)
    want = _flow_reference(torch, vgg, flow, layer).numpy()
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5 * np.abs(want).max())


def test_vgg_weights_from_a_file_rgb_and_flow(tv, vgg, tmp_path):
    """A VGG-16 state dict file: the RGB network reads it as it is, the flow network averages its first layer, or
    takes a 2-channel first layer as it is."""
    torch, torchvision = tv
    # the fully connected weights as broadcast rows: a file of 59 MB rather than 528 MB (torch.save keeps a
    # tensor's storage, which a row broadcast to every output unit shares)
    state = {k: v[:1].clone().expand_as(v) if k.startswith("classifier") and v.ndim == 2 else v
             for k, v in vgg.state_dict().items()}
    rgb_file, flow_file = tmp_path / "vgg16.pth", tmp_path / "vgg16-flow.pth"
    torch.save(state, rgb_file)
    flow_state = dict(state, **{"features.0.weight": -state["features.0.weight"][:, :2].clone()})
    torch.save(flow_state, flow_file)
    assert rgb_file.stat().st_size < 100e6
    ref = copy.deepcopy(vgg)
    ref.load_state_dict(state)
    frames, flow = _frames(3), _frames(2, seed=1)
    got = Encoder("pool5", str(rgb_file))(frames)
    want = _vgg_reference(torch, ref, _rgb_input(torch, torchvision, frames), "pool5").numpy()
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5 * np.abs(want).max())
    got = Encoder("flow-fc7", str(rgb_file))(flow)
    want = _flow_reference(torch, ref, flow, "fc7").numpy()
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5 * np.abs(want).max())
    got = Encoder("flow-pool5", str(flow_file))(flow)
    x = (torch.from_numpy(flow).permute(0, 3, 1, 2).float() / 255 - 0.5) / 0.226
    with torch.no_grad():
        first = torch.nn.functional.conv2d(x, flow_state["features.0.weight"], ref.features[0].bias, padding=1)
        want = ref.features[1:](first).numpy()
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5 * np.abs(want).max())


def test_r3d_weights_from_the_torch_hub_cache(tv, tmp_path, monkeypatch):
    torch, torchvision = tv
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    with pytest.raises(ExtractionError, match=r"not in the torch hub cache .*r3d_18-b3b3357e\.pth.*--r3d-weights"):
        weights_file("r3d18", option="--r3d-weights")
    torch.manual_seed(1)
    ref = torchvision.models.video.r3d_18().eval()
    # every filter bank as its first filter broadcast: a file of kilobytes (test_vgg_weights_from_a_file...)
    ref.load_state_dict({k: v[:1].clone().expand_as(v) if v.ndim > 1 else v for k, v in ref.state_dict().items()})
    path = tmp_path / "torch" / "hub" / "checkpoints" / "r3d_18-b3b3357e.pth"
    path.parent.mkdir(parents=True)
    torch.save({k: v[:1].clone().expand_as(v) if v.ndim > 1 else v for k, v in ref.state_dict().items()}, path)
    assert path.stat().st_size < 1e6
    assert weights_file("r3d18") == str(path)
    clips = np.random.default_rng(2).integers(0, 256, (2, 2, 16, 16, 3), dtype=np.uint8)
    t = torchvision.models.video.R3D_18_Weights.DEFAULT.transforms()      # Kinetics' mean and std
    x = torch.from_numpy(clips).permute(0, 4, 1, 2, 3).float() / 255
    x = (x - torch.tensor(t.mean)[:, None, None, None]) / torch.tensor(t.std)[:, None, None, None]
    with torch.no_grad():
        scores = ref(x).numpy()
        ref.fc = torch.nn.Identity()
        pooled = ref(x).numpy()
    got = Encoder("r3d", str(path))(clips)
    assert got.shape == (2, 512)
    np.testing.assert_allclose(got, pooled, rtol=1e-4, atol=1e-5 * np.abs(pooled).max())
    np.testing.assert_allclose(Encoder("r3d-fc", str(path))(clips), scores, rtol=1e-4, atol=1e-5 * np.abs(scores).max())


def test_damaged_or_foreign_weights_files_are_named(tv, tmp_path):
    torch, _ = tv
    junk = tmp_path / "junk.pth"
    junk.write_bytes(b"not a pickle" * 10)
    with pytest.raises(ExtractionError, match=r"junk\.pth: not a readable PyTorch state dict of R3D-18"):
        Encoder("r3d", str(junk))(np.zeros((1, 2, 32, 32, 3), np.uint8))
    foreign = tmp_path / "foreign.pth"
    torch.save({"conv.weight": torch.zeros(2, 2)}, foreign)
    with pytest.raises(ExtractionError, match=r"foreign\.pth: not a state dict of torchvision's R3D-18"):
        Encoder("r3d", str(foreign))(np.zeros((1, 2, 32, 32, 3), np.uint8))


def test_the_encoder_checks_its_input(tv):
    with pytest.raises(ValueError, match=r"pool5: expected uint8 \(b, H, W, 3\) frames"):
        Encoder("pool5")(np.zeros((1, 32, 32, 2), np.uint8))
    with pytest.raises(ValueError, match=r"r3d: expected uint8 \(b, L, H, W, 3\) clips"):
        Encoder("r3d")(np.zeros((1, 32, 32, 3), np.uint8))
