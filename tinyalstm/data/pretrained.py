"""The papers' pretrained encoders, from torchvision, as the frame and clip encoders of ``--dataset features``
(optional: PyTorch and torchvision come with the ``features`` extra, ``pip install -e '.[features]'``; nothing
else in tinyalstm imports torch).

Features (``FEATURES``; ``extraction.py`` runs them over a dataset):

    pool5, fc6, fc7, fc8      VGG-16 on RGB frames: pool5 maps (512, s/32, s/32), i.e. (512, 7, 7) at s = 224
                              (VideoLSTM sec. 5.2: its ALSTM, ConvALSTM and VideoLSTM read pool5); fc6 and fc7
                              (4096,) after their ReLU, as Caffe's in-place ReLU leaves its fc6/fc7 blobs (the
                              VideoLSTM LSTM reads fc7); fc8 (1000,) the ImageNet class scores before the softmax
                              (aLSTM sec. 3.2's attended-data, "VGG_obj fc8")
    flow-pool5 ... flow-fc8   the same network on 2-channel flow images, its first convolution's ImageNet weights
                              averaged over R, G and B and replicated to 2 channels (the cross-modality
                              initialisation of TSN, Wang et al., "Temporal Segment Networks", arXiv 1608.00859)
    r3d, r3d-fc               R3D-18 (Kinetics-400) on 16-frame clips: r3d the pooled (512,) clip vector before the
                              classifier, r3d-fc the 400 class scores; the stand-in for aLSTM sec. 3.1's input-data
                              (C3D fc6 (4096,) per 16-frame chunk; C3D is not in torchvision)

Departures from the papers, stated where they matter: VideoLSTM (sec. 5.2) fine-tunes both VGG-16 networks on
the action labels before extracting, and trains its flow network on flow images; here both are the ImageNet
network as it is (the flow one only re-initialised at its first layer), nothing is fine-tuned. aLSTM uses VGG-19
and C3D (Sports-1M, fine-tuned on ActivityNet); here VGG-16 and R3D-18.

Inputs: uint8 frames (b, H, W, 3) RGB, flow images (b, H, W, 2) (``flow.flow_to_image``: 128 = no motion), clips
(b, L, H, W, 3). Normalisation: ImageNet's mean and std for RGB frames (torchvision's VGG16_Weights), TSN's
(0.5, 0.226) on both flow channels (0.226 the mean of ImageNet's three stds), Kinetics' mean and std for clips
(torchvision's R3D_18_Weights).

Weights: torchvision's own files, read from the local torch hub cache (``torch.hub.get_dir()/checkpoints/``)
and never downloaded (``weights_file``); or a state dict given by the user; or, for tests only, torchvision's
random initialisation drawn after ``torch.manual_seed(seed)`` (the features then mean nothing).

An ``Encoder`` is a small picklable description (feature, weights file, device, seed); the network is built in
the process that first calls it and kept there, so ``features.extract_features``'s worker processes each build
their own.
"""
import os
from dataclasses import dataclass
from importlib import metadata
from typing import NamedTuple, Optional
from urllib.parse import urlparse

import numpy as np

INSTALL = "install the features extra: pip install -e '.[features]' (PyTorch and torchvision)"

IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
FLOW_MEAN, FLOW_STD = 0.5, 0.226                      # TSN's flow normalisation, per channel
KINETICS_MEAN, KINETICS_STD = (0.43216, 0.394666, 0.37645), (0.22803, 0.22145, 0.216989)

# torchvision's file names of the two networks' default weights (VGG16_Weights.DEFAULT, R3D_18_Weights.DEFAULT);
# written here so that the names can be checked without importing torch, and compared with torchvision's in tests
WEIGHTS_URLS = {"vgg16": "https://download.pytorch.org/models/vgg16-397923af.pth",
                "r3d18": "https://download.pytorch.org/models/r3d_18-b3b3357e.pth"}
NETWORK_NAMES = {"vgg16": "VGG-16", "r3d18": "R3D-18"}
TRAINED_ON = {"vgg16": "ImageNet", "r3d18": "Kinetics-400"}


class ExtractionError(Exception):
    """A feature extraction that cannot run: PyTorch missing, weights not found or not the network's, a device
    PyTorch cannot use. The message names the file or option and what to do."""


class Feature(NamedTuple):
    name: str          # what --rgb / --flow name
    network: str       # "vgg16" or "r3d18"
    reads: str         # "frames" (RGB), "flow" (2-channel flow images) or "clips" (RGB, L frames each)
    layer: str         # VGG-16: pool5, fc6, fc7, fc8; R3D-18: pool, fc
    summary: str


FEATURES = {f.name: f for f in [
    Feature("pool5", "vgg16", "frames", "pool5", "VGG-16 pool5 maps of RGB frames (512, 7, 7) at 224 px"),
    Feature("fc6", "vgg16", "frames", "fc6", "VGG-16 fc6 after its ReLU, RGB frames (4096,)"),
    Feature("fc7", "vgg16", "frames", "fc7", "VGG-16 fc7 after its ReLU, RGB frames (4096,)"),
    Feature("fc8", "vgg16", "frames", "fc8", "VGG-16 fc8, the ImageNet class scores of RGB frames (1000,)"),
    Feature("flow-pool5", "vgg16", "flow", "pool5", "VGG-16 pool5 maps of flow images (512, 7, 7) at 224 px"),
    Feature("flow-fc6", "vgg16", "flow", "fc6", "VGG-16 fc6 after its ReLU, flow images (4096,)"),
    Feature("flow-fc7", "vgg16", "flow", "fc7", "VGG-16 fc7 after its ReLU, flow images (4096,)"),
    Feature("flow-fc8", "vgg16", "flow", "fc8", "VGG-16 fc8, flow images (1000,)"),
    Feature("r3d", "r3d18", "clips", "pool", "R3D-18's pooled clip vector (512,), one per 16-frame clip"),
    Feature("r3d-fc", "r3d18", "clips", "fc", "R3D-18's Kinetics-400 class scores (400,), one per clip"),
]}
VGG_WIDTHS = {"pool5": 512, "fc6": 4096, "fc7": 4096, "fc8": 1000}
R3D_WIDTHS = {"pool": 512, "fc": 400}


def feature_shape(name, size):
    """The shape after the rows of feature ``name`` on frames (or clips) of ``size`` x ``size`` pixels: (512, N, N)
    with N = size // 32 for pool5 maps (VGG-16's five 2 x 2 poolings), (D,) for vectors."""
    f = feature(name)
    if f.network == "r3d18":
        return (R3D_WIDTHS[f.layer],)
    if f.layer == "pool5":
        return (512, size // 32, size // 32)
    return (VGG_WIDTHS[f.layer],)


def feature(name):
    if name not in FEATURES:
        raise ValueError(f"feature: expected one of {', '.join(FEATURES)}, got {name!r}")
    return FEATURES[name]


def torch_modules():
    """(torch, torchvision), or ExtractionError saying how to install them."""
    try:
        import torch
        import torchvision
    except ImportError as err:
        raise ExtractionError(f"feature extraction needs PyTorch and torchvision ({err}); {INSTALL}") from None
    except Exception as err:  # noqa: BLE001 -- a torchvision built for another torch fails in many ways
        versions = {}
        for name in ("torch", "torchvision"):
            try:
                versions[name] = metadata.version(name)
            except metadata.PackageNotFoundError:
                versions[name] = "?"
        raise ExtractionError(f"torchvision {versions['torchvision']} does not import beside torch "
                              f"{versions['torch']} ({type(err).__name__}: {err}): the two must be builds made for "
                              f"each other (a CPU-only torch with a CUDA torchvision fails so); install a matching "
                              f"pair, e.g. with pip install -e '.[features]' in a fresh environment") from None
    return torch, torchvision


def cached_weights_path(network):
    """Where torchvision keeps the default weights of ``network`` once downloaded: the torch hub cache
    (``$TORCH_HOME/hub/checkpoints/``, default ``~/.cache/torch/hub/checkpoints/``)."""
    torch, _ = torch_modules()
    return os.path.join(torch.hub.get_dir(), "checkpoints", os.path.basename(urlparse(WEIGHTS_URLS[network]).path))


def weights_file(network, given=None, option="--weights"):
    """The state dict file of ``network``: ``given`` (a path the user named with ``option``), else torchvision's
    cached default weights. Never downloads: a missing file is an ExtractionError saying how to get it."""
    if given is not None:
        if not os.path.isfile(given):
            raise ExtractionError(f"{option} {given}: file not found")
        return os.fspath(given)
    path = cached_weights_path(network)
    if not os.path.isfile(path):
        call = "vgg16" if network == "vgg16" else "video.r3d_18"
        raise ExtractionError(
            f"torchvision's {TRAINED_ON[network]} weights of {NETWORK_NAMES[network]} are not in the torch hub cache "
            f"({path}) and nothing here downloads them. On a machine with internet access run python -c "
            f"\"import torchvision; torchvision.models.{call}(weights='DEFAULT')\" and copy the file it writes to "
            f"{path} (or point TORCH_HOME at a folder holding hub/checkpoints/), or pass {option} FILE with a state "
            f"dict of the network")
    return path


def check_device(device):
    """``device`` ('cpu' or 'cuda') as PyTorch can use it, or an ExtractionError."""
    if device not in ("cpu", "cuda"):
        raise ExtractionError(f"--device: expected cpu or cuda, got {device!r}")
    torch, _ = torch_modules()
    if device == "cuda" and not torch.cuda.is_available():
        raise ExtractionError("--device cuda: PyTorch sees no GPU (torch.cuda.is_available() is False; a CPU-only "
                              "build of PyTorch, or no driver); use --device cpu")
    return device


def cross_modality(weight):
    """TSN's cross-modality initialisation of a flow network's first convolution: the RGB weights (K, 3, kh, kw)
    averaged over their 3 input channels and replicated to 2 -> (K, 2, kh, kw). Works on NumPy arrays and torch
    tensors alike."""
    if weight.ndim != 4 or weight.shape[1] != 3:
        raise ValueError(f"weight: expected an RGB convolution (K, 3, kh, kw), got shape {tuple(weight.shape)}")
    mean = weight.mean(1, keepdims=True) if isinstance(weight, np.ndarray) else weight.mean(1, keepdim=True)
    return mean.repeat(2, 1) if isinstance(weight, np.ndarray) else mean.repeat(1, 2, 1, 1)


@dataclass(frozen=True)
class Encoder:
    """One feature's encoder: ``encoder(x)`` -> float32 features (b, *feature_shape) of a batch x, uint8 frames
    (b, H, W, 3), flow images (b, H, W, 2) or clips (b, L, H, W, 3) by ``FEATURES[feature].reads``.

    weights: a state dict file (``weights_file``), or None for torchvision's random initialisation after
    ``torch.manual_seed(seed)`` (tests). A flow feature's file may hold a 3-channel first convolution (an RGB
    network: ``cross_modality`` makes it 2-channel) or a 2-channel one (a flow network, used as it is)."""
    feature: str
    weights: Optional[str] = None
    device: str = "cpu"
    seed: int = 0

    def __call__(self, x):
        torch, _ = torch_modules()
        f = feature(self.feature)
        channels = {"frames": 3, "flow": 2, "clips": 3}[f.reads]
        ndim = 5 if f.reads == "clips" else 4
        if not (isinstance(x, np.ndarray) and x.dtype == np.uint8 and x.ndim == ndim and x.shape[-1] == channels):
            what = "(b, L, H, W, 3) clips" if f.reads == "clips" else f"(b, H, W, {channels}) {f.reads}"
            raise ValueError(f"{self.feature}: expected uint8 {what}, got "
                             f"{getattr(x, 'dtype', type(x).__name__)} {getattr(x, 'shape', '')}")
        net = network(self.feature, self.weights, self.device, self.seed)
        t = torch.from_numpy(np.ascontiguousarray(x)).to(self.device)
        # channels first (NCHW frames, NCTHW clips) in [0, 1], then the normalisation the weights were trained with
        t = (t.permute(0, 4, 1, 2, 3) if f.reads == "clips" else t.permute(0, 3, 1, 2)).float().div_(255.0)
        mean, std = _normalisation(f.reads)
        shape = (1, -1, 1, 1, 1) if f.reads == "clips" else (1, -1, 1, 1)
        t = (t - torch.tensor(mean, device=t.device).view(shape)) / torch.tensor(std, device=t.device).view(shape)
        with torch.inference_mode():
            out = net(t)
        return out.float().cpu().numpy()


def _normalisation(reads):
    if reads == "frames":
        return IMAGENET_MEAN, IMAGENET_STD
    if reads == "flow":
        return (FLOW_MEAN, FLOW_MEAN), (FLOW_STD, FLOW_STD)
    return KINETICS_MEAN, KINETICS_STD


_NETWORKS = {}      # this process's networks: (feature, weights, device, seed) -> module in eval mode


def network(name, weights=None, device="cpu", seed=0):
    """The torch module computing feature ``name`` (``Encoder``'s arguments), built once per process: VGG-16 cut
    after pool5 (``features``), after fc6 / fc7 (with their ReLU) or whole (fc8); R3D-18 with its classifier
    replaced by the identity (pool) or whole (fc). Eval mode: dropout off."""
    key = (name, weights, device, seed)
    if key not in _NETWORKS:
        torch, _ = torch_modules()
        f = feature(name)
        base = _base(f.network, f.reads == "flow", weights, seed)
        if f.network == "vgg16":
            cut = {"fc6": 2, "fc7": 5, "fc8": 7}
            layers = ([base.features] if f.layer == "pool5" else
                      [base.features, base.avgpool, torch.nn.Flatten(1), base.classifier[:cut[f.layer]]])
            net = torch.nn.Sequential(*layers)
        else:
            net = torch.nn.Sequential(*[m for n, m in base.named_children() if n != "fc"], torch.nn.Flatten(1),
                                      *([base.fc] if f.layer == "fc" else []))
        _NETWORKS[key] = net.eval().to(device)
    return _NETWORKS[key]


_BASES = {}         # (network, flow, weights, seed) -> the whole torchvision network, shared by its layers' cuts


def _base(name, flow, weights, seed):
    """The whole torchvision network of ``network``'s arguments (a VGG-16 for flow images: its first layer
    2-channel, the rest shared with the RGB network of the same weights, as neither is fine-tuned here)."""
    key = (name, flow, weights, seed)
    if key in _BASES:
        return _BASES[key]
    torch, torchvision = torch_modules()
    build = torchvision.models.vgg16 if name == "vgg16" else torchvision.models.video.r3d_18
    state = None if weights is None else _load_state(torch, weights, name)
    given = None if state is None else state.get("features.0.weight")
    if flow and getattr(given, "ndim", 0) == 4 and given.shape[1] == 2:       # a flow network's own file
        with torch.device("meta"):
            net = build(weights=None)
            net.features[0] = torch.nn.Conv2d(2, 64, 3, padding=1)
        net = _assign(net, state, weights, name)
    elif flow:
        rgb = _BASES.get((name, False, weights, seed)) or _rgb_base(torch, build, state, weights, name, seed)
        _BASES[(name, False, weights, seed)] = rgb
        net = torch.nn.Module()
        net.features = torch.nn.Sequential(_flow_conv(torch, rgb.features[0].weight, rgb.features[0].bias),
                                           *list(rgb.features)[1:])
        net.avgpool, net.classifier = rgb.avgpool, rgb.classifier
    else:
        net = _rgb_base(torch, build, state, weights, name, seed)
    _BASES[key] = net
    return net


def _rgb_base(torch, build, state, weights, name, seed):
    if state is None:
        with torch.random.fork_rng(devices=[]):       # the caller's random stream is left as it was
            torch.manual_seed(seed)
            return build(weights=None)
    with torch.device("meta"):     # no random initialisation to pay for: every tensor comes from the file
        net = build(weights=None)
    return _assign(net, state, weights, name)


def _assign(net, state, weights, name):
    try:
        net.load_state_dict(state, assign=True)
    except (RuntimeError, KeyError, ValueError) as err:
        raise ExtractionError(f"{weights}: not a state dict of torchvision's {NETWORK_NAMES[name]} network "
                              f"({' '.join(str(err).split())[:300]})") from None
    return net


def _flow_conv(torch, weight, bias):
    """VGG-16's first convolution for 2-channel flow images, cross-modality initialised from the RGB one."""
    conv = torch.nn.Conv2d(2, weight.shape[0], weight.shape[2:], padding=1)
    with torch.no_grad():
        conv.weight.copy_(cross_modality(weight))
        conv.bias.copy_(bias)
    return conv


def _load_state(torch, path, name):
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001 -- torch raises many kinds for a damaged or foreign file
        raise ExtractionError(f"{path}: not a readable PyTorch state dict of {NETWORK_NAMES[name]} "
                              f"({type(err).__name__}: {' '.join(str(err).split())[:200]}); download it again or "
                              f"pass another file") from None
    if not isinstance(state, dict):
        raise ExtractionError(f"{path}: expected a state dict (a mapping of parameter names to tensors), got "
                              f"{type(state).__name__}")
    # float32 whatever the file holds (a float16 copy halves a download, not the arithmetic's precision)
    return {k: v.float() if torch.is_tensor(v) and v.is_floating_point() else v for k, v in state.items()}
