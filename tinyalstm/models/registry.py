"""The one registry of model names: name -> constructor, which inputs it reads, its defaults.

Every command line (train, evaluate, experiments, bench, demo), the tutorials and the tests build models here:

    from tinyalstm.models import build_model
    model = build_model("videolstm", n_classes=101, input_dim=512, second_dim=512, map_size=7, hidden=512)

``input_dim`` is the feature size of the first input (channels C of the maps, or dv of aLSTM's input-data),
``second_dim`` that of the second (flow channels Cm, or da; default: input_dim), ``map_size`` N of the maps.
Other keyword options go to the constructor (``MODELS[name].options`` lists them, ``.defaults`` their values);
an option the model does not take is an error.
"""
import inspect
from dataclasses import dataclass
from typing import Callable, Optional

from .alstm import LSTM, aLSTM, aLSTMb
from .sharma_alstm import ALSTM, MotionALSTM
from .videolstm import ConvALSTM, ConvLSTM, VideoLSTM


@dataclass(frozen=True)
class ModelSpec:
    name: str                      # the registry name, e.g. "videolstm"
    title: str                     # how tables print it
    paper: str                     # whose model (or baseline) it is
    summary: str                   # one line for --help
    cls: type                      # the Classifier subclass
    first: Optional[str]           # the modality of the first input, None: the run's --modality
    second: Optional[str]          # the modality of the second input, None: the model reads one
    pooled: bool                   # reads per-frame spatially pooled vectors (B, T, D) rather than maps
    positional: Callable           # (input_dim, second_dim, map_size, hidden) -> the constructor's sizes

    def modalities(self, modality, attended=None):
        """(first input's modality, second's or None) for a run whose single-stream modality is ``modality``;
        ``attended`` replaces the attended-data of the aLSTM models (their second input), see ``takes_attended``."""
        if attended is not None and not self.takes_attended:
            raise ValueError(f"attended-data: {self.name} has no attended-data to choose (only the aLSTM models)")
        return (self.first or modality, attended or self.second)

    @property
    def takes_attended(self):
        """Whether the run may choose the attended-data: the aLSTM models (pooled vectors, two inputs)."""
        return self.pooled and self.second is not None

    @property
    def options(self):
        """The keyword options the constructor takes beyond the sizes and n_classes."""
        params = list(inspect.signature(self.cls.__init__).parameters.values())[1:]
        return tuple(p.name for p in params if p.default is not inspect.Parameter.empty)

    @property
    def defaults(self):
        """{option: default} from the constructor (the papers' values where they give one)."""
        params = inspect.signature(self.cls.__init__).parameters.values()
        return {p.name: p.default for p in params if p.default is not inspect.Parameter.empty}


def _vector(D, D2, N, H):
    return (D, H)


def _attention(D, D2, N, H):
    return (D, D2, H, H)           # matching-vector size M = hidden size H


def _maps(D, D2, N, H):
    return (D, N, H)


def _two_maps(D, D2, N, H):
    return (D, D2, N, H)


_SPECS = [
    ModelSpec("lstm", "LSTM", "aLSTM and VideoLSTM Table 1", "LSTM on per-frame spatially pooled maps of "
              "--modality", LSTM, None, None, True, _vector),
    ModelSpec("alstm", "aLSTM (a)", "aLSTM eqs. 3-13, fig. 4a", "aLSTM, attention at every step: input-data = "
              "pooled flow maps per frame, attended-data = pooled RGB maps per frame", aLSTM, "flow", "rgb", True,
              _attention),
    ModelSpec("alstm-b", "aLSTM (b)", "aLSTM fig. 4b", "aLSTM variant (b): attention only into the last step",
              aLSTMb, "flow", "rgb", True, _attention),
    ModelSpec("alstm-spatial", "ALSTM", "VideoLSTM's ALSTM, Table 1", "Sharma et al.'s soft-attention LSTM "
              "over the N x N locations of --modality maps", ALSTM, None, None, False, _maps),
    ModelSpec("alstm-motion", "ALSTM, motion attention", "VideoLSTM Table 2", "the same on RGB maps, attention "
              "from a flow LSTM over pooled flow maps", MotionALSTM, "rgb", "flow", False, _two_maps),
    ModelSpec("convlstm", "ConvLSTM", "VideoLSTM eqs. 1-6, Table 1", "ConvLSTM on --modality maps", ConvLSTM,
              None, None, False, _maps),
    ModelSpec("convalstm", "ConvALSTM", "VideoLSTM eqs. 1-9, Table 1", "Convolutional ALSTM on --modality maps",
              ConvALSTM, None, None, False, _maps),
    ModelSpec("videolstm", "VideoLSTM", "VideoLSTM eqs. 1-15, Tables 2-3", "VideoLSTM: RGB maps attended by "
              "motion-based attention from flow maps; with a flow ConvALSTM fused by product unless "
              "--no-two-stream (Table 3)", VideoLSTM, "rgb", "flow", False, _two_maps),
]
MODELS = {spec.name: spec for spec in _SPECS}

# VideoLSTM Table 1's ConvNet baseline is the frame encoder alone (frame_encoder.py), trained and scored by the data
# pipeline that makes the features every model reads: a run of its own kind (python -m tinyalstm.train --model
# convnet), not a sequence model of this registry.
CONVNET = "convnet"
CONVNET_SUMMARY = "the frame encoder alone: frame softmax averaged over the video (VideoLSTM Table 1's ConvNet)"
MODEL_CHOICES = (CONVNET, *MODELS)  # every name a run's --model takes


def model_spec(name):
    """The registry entry of ``name``, or a ValueError listing the names."""
    if name not in MODELS:
        raise ValueError(f"model: expected one of {tuple(MODELS)}, got {name!r}")
    return MODELS[name]


def build_model(name, n_classes, input_dim, hidden, map_size=None, second_dim=None, **options):
    """The model ``name`` for inputs of feature size ``input_dim`` (and ``second_dim``, default input_dim) on
    ``map_size`` x ``map_size`` maps, with ``hidden`` units or channels; ``options`` go to its constructor."""
    if name == CONVNET:
        raise ValueError(f"model: {name!r} is the frame encoder alone (models.frame_encoder.FrameEncoder), "
                         f"not a sequence model")
    spec = model_spec(name)
    unknown = sorted(set(options) - set(spec.options))
    if unknown:
        raise TypeError(f"{name}: no option {', '.join(unknown)}; it takes {', '.join(spec.options)}")
    if not spec.pooled and map_size is None:
        raise ValueError(f"map_size: {name} reads N x N maps; give their size N")
    sizes = spec.positional(input_dim, input_dim if second_dim is None else second_dim, map_size, hidden)
    return spec.cls(*sizes, n_classes, **options)
