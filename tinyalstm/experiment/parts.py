"""A run's parts from its configuration (the train command's options, or those a checkpoint stores): the data it
reads, the registry's model, the optimiser, the reader of its inputs, and a checkpoint's run loaded whole.

The one way from a configuration to a run: training builds its run here, evaluation and localization load a
trained one here, and none of them imports another for it.
"""
import json
from pathlib import Path

from ..checks import RunError
from ..data.pipeline import default_work, load_data
from ..data.registry import dataset_spec
from ..data.windows import WindowReader
from ..models import CONVNET, MODELS, build_model, model_spec
from ..optim import SGD, RMSprop
from ..run.checkpoints import load_checkpoint


def run_data(config, log=print, saved=False):
    """The FeatureData a run reads, from its configuration (the train CLI's options, or those a checkpoint
    stores; cached stages are reused while their inputs are unchanged). A ConvNet run reads its one modality's
    frames. ``saved``: the configuration of a trained run read again (``saved_run_data``): its data are never
    generated, and must have its classes."""
    if config["model"] == CONVNET:
        mods = [config["modality"]]
    else:
        mods = [m for m in model_spec(config["model"]).modalities(config["modality"], config.get("attended_data"))
                if m]
    path = lambda k: None if config.get(k) is None else Path(config[k])  # noqa: E731
    return load_data(config["dataset"], path("root"), config["split"], mods, work=path("work"), size=config["size"],
                     encoder_epochs=config["encoder_epochs"], seed=config["seed"],
                     validation=config.get("validation", 0.0),
                     flip=config.get("flip", False) or bool(config.get("test_chunks")), log=log,
                     workers=config.get("workers", 1), generate=not saved,
                     classes=config.get("classes") if saved else None, scheduler=config.get("scheduler"),
                     rgb_encoder=config.get("rgb_encoder") or "scratch")


def saved_run_data(config, path, root=None):
    """The configuration to rebuild the data of the trained run behind checkpoint ``path`` (stored configuration
    ``config``) -> config. A dataset folder that is gone is refused by name, never generated again at its old
    place; ``root``: where the run's dataset is now (``--root`` of evaluate and localize), checked to be the same
    dataset (the built-in benchmark's generator options, when the run recorded them; the class list in any case,
    once the split lists are read). A moved dataset keeps the run's caches: the built-in benchmark's travel with it,
    another dataset's stay where the run had them (checked video by video, pipeline.py)."""
    spec = dataset_spec(config["dataset"])
    old = Path(config["root"]) if config.get("root") else spec.default_root() if spec.built_in else None
    if root is None:
        if old is not None and not old.is_dir():
            where = "the built-in benchmark's default folder" if not config.get("root") else "--root"
            raise RunError(f"--checkpoint {path}: the run's dataset ({config['dataset']}, {where} {old}) is gone; "
                           f"give the folder it was moved to with --root DIR (it is not generated again for a "
                           f"trained run)")
        return config
    root = Path(root)
    if not root.is_dir():
        raise RunError(f"--root {root}: not a folder")
    if spec.built_in:
        _check_benchmark(root, config)
    work = config.get("work")
    if work is None and spec.videos and not spec.built_in and old is not None:
        work = str(default_work(config["dataset"], old))      # the run's own cache (keyed by its old place)
    return {**config, "root": str(root), "work": work}


def _check_benchmark(root, config):
    """``root`` must hold a built-in benchmark generated with the options of the run's (when it recorded them)."""
    manifest = root / "synthetic.json"
    try:
        options = json.loads(manifest.read_text())["options"]
    except (OSError, ValueError, KeyError, TypeError):
        raise RunError(f"--root {root}: no readable synthetic.json; not the {config['dataset']} benchmark the run "
                       f"was trained on") from None
    expected = config.get("dataset_options")
    if expected is not None and options != expected:
        diff = "; ".join(f"{k}: {expected.get(k)!r} there, {options.get(k)!r} here"
                         for k in sorted(set(expected) | set(options)) if expected.get(k) != options.get(k))
        raise RunError(f"--root {root}: a {config['dataset']} benchmark generated with other options than the run's "
                       f"({diff}); give the folder the run's benchmark was moved to")


def build_run_model(config, data):
    """The registry's model for a run's configuration and data: maps (D, N, N), or given vectors (D,) of each
    input (``data.shapes``: aLSTM's input-data dv and attended-data da)."""
    options = {"dropout": config["dropout"], "seed": config["seed"], "fc_dim": config["fc_dim"],
               "attention_penalty": config.get("attention_penalty", 0.0)}
    spec = model_spec(config["model"])
    first, second = spec.modalities(config["modality"], config.get("attended_data"))
    shape = tuple(data.shapes.get(first, data.feature_shape))
    shape2 = tuple(data.shapes.get(second, shape)) if second else shape
    if not spec.pooled and (len(shape) != 3 or len(shape2) != 3):
        m, s = (first, shape) if len(shape) != 3 else (second, shape2)
        raise ValueError(f"--model {spec.name}: it reads N x N maps; the {m} features are vectors of shape (frames, "
                         f"{s[0]}); the models of vectors are lstm, alstm and alstm-b")
    D, D2, N = shape[0], shape2[0], (shape[1] if len(shape) == 3 else None)
    if data.multilabel:
        if "multilabel" not in spec.options:
            raise ValueError(f"--model {spec.name}: the {config['dataset']} clips carry several classes; the models "
                             f"with the multi-label loss are {', '.join(multilabel_models())}")
        options["multilabel"] = True
    return build_model(config["model"], len(data.classes), D, config["hidden"], map_size=N, second_dim=D2,
                       **{k: v for k, v in options.items() if k in spec.options})


OPTIMIZERS = ("rmsprop", "sgd")
# RMSprop: VideoLSTM's authors' code. SGD: aLSTM sec. 4.1 uses 0.01 over thousands of iterations of 200 videos; the
# built-in benchmark's default run has 150 iterations of 16, where 0.01 underfits (aLSTM, seed 0, validation
# accuracy 0.375 against 0.583 at 0.03 and 0.562 at 0.1; RMSprop 0.500), so SGD's default is 0.03
DEFAULT_LR = {"rmsprop": 1e-3, "sgd": 0.03}
# SGD's other options: aLSTM sec. 4.1's momentum; the decay's ratio and start are ours (the paper gives neither)
SGD_DEFAULTS = {"momentum": 0.9, "lr_decay": 0.9, "lr_decay_after": 8}


def default_optimizer(model):
    """The recipe of the model's paper: SGD with momentum and step decay for the aLSTM paper's vector models
    (lstm, alstm, alstm-b; sec. 4.1), RMSprop for VideoLSTM's (the authors' code) and the ConvNet."""
    return "sgd" if model != CONVNET and model_spec(model).pooled else "rmsprop"


def build_optimizer(config, steps_per_epoch):
    """The run's optimiser. SGD follows aLSTM sec. 4.1 in epochs: the learning rate is fixed for ``lr_decay_after``
    epochs ("0.01 for 2,512 iterations"), then multiplied by ``lr_decay`` after every further epoch ("decreased
    every 125 iterations by a fixed ratio", which the paper does not give), momentum 0.9. The schedule does not
    depend on --epochs, so a run resumed to more epochs trains its first epochs as they were."""
    name = config.get("optimizer", "rmsprop")
    if name == "rmsprop":
        return RMSprop(lr=config["lr"], rho=0.9, eps=1e-6)
    if name != "sgd":
        raise ValueError(f"optimizer: expected one of {OPTIMIZERS}, got {name!r}")
    sgd = {k: config.get(k, v) for k, v in SGD_DEFAULTS.items()}
    return SGD(lr=config["lr"], momentum=sgd["momentum"],
               decay_start=None if sgd["lr_decay"] == 1.0 else steps_per_epoch * sgd["lr_decay_after"],
               decay_every=steps_per_epoch, decay_rate=sgd["lr_decay"])


def run_reader(config, data):
    """The WindowReader of a run's inputs (its model, modality, attended-data and input chunk)."""
    return WindowReader(data, model_spec(config["model"]), config["modality"], config.get("attended_data"),
                        config.get("input_chunk", 1))


def multilabel_models():
    """The --model names that train on multi-label data: the aLSTM paper's models (sigmoid loss) and the frame
    encoder's ConvNet baseline."""
    return [CONVNET] + [n for n, spec in MODELS.items() if "multilabel" in spec.options]


def load_run(config, path, log=print, root=None, scheduler=None):
    """The trained run behind checkpoint ``path`` with stored configuration ``config`` -> (data, model with the
    checkpoint's parameters, WindowReader of its inputs); the data are rebuilt from the configuration (cached
    stages are reused while their inputs are unchanged), from ``root`` when the dataset was moved there
    (``saved_run_data``); ``scheduler``: the Dask cluster to rebuild missing caches on (this command's, never the
    one the run was trained with, which may be gone). Serves evaluate and localize."""
    data = run_data({**saved_run_data(config, path, root), "scheduler": scheduler}, log, saved=True)
    model = build_run_model(config, data)
    load_checkpoint(path, model, RMSprop(), config, what="--checkpoint")
    return data, model, run_reader(config, data)
