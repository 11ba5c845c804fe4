"""Training: the minibatch loop every model shares, and the whole run behind ``python -m tinyalstm.train``.

The loop (``train_batches``) is the part a reader needs to see once: forward, backward, clip, step. The run
(``run_training``) adds the data pipeline, the model from the registry, per-epoch evaluation, atomic checkpoints
and resume, the final 25-window evaluation, and the pictures.
"""
import json
import math
import time

import numpy as np

from .. import backend, plots
from ..data.registry import dataset_spec, ground_truth_for
from ..data.windows import training_batches
from ..models import CONVNET
from ..optim import RMSprop, clip_grad_norm
from ..run.checkpoints import (CheckpointError, check_same_options, init_from, load_checkpoint, read_checkpoint,
                               save_checkpoint)
from ..run.folder import claim
from ..run.progress import eta, progress
from ..run.storage import save_json, save_npy, save_text
from .evaluation import evaluate_videos, fuse_runs, sequence_inputs, video_metrics
from .localization import draw_window_attention, run_localization
from .parts import build_optimizer, build_run_model, run_data, run_reader

FLOW_STREAM = "flow-stream"      # the two-stream VideoLSTM's flow run, inside the RGB run's folder


def train_batches(model, optimiser, batches, rng, max_norm=5.0):
    """Step on every (input, y, second input or None) of ``batches``: loss with dropout, clip, step. Serves every
    model (aLSTM's (V, y, A), the video models' (X, y, M)). -> mean loss per example.

    Raises FloatingPointError on a non-finite loss or gradient norm, before the step that would have written it
    into the parameters."""
    total, count = 0.0, 0
    for first, y, second in batches:
        loss, grads = model.loss(first, y, second, rng=rng)
        norm = clip_grad_norm(grads, max_norm)
        if not (math.isfinite(loss) and math.isfinite(norm)):
            raise FloatingPointError(f"non-finite loss {loss} or gradient norm {norm} at step {optimiser.t}")
        optimiser.step(model.params, grads)
        total += loss * len(y)
        count += len(y)
    return total / count


def train_epoch(model, optimiser, data, batch_size, rng, max_norm=5.0):
    """One pass over an in-memory ``data`` dict (V, y and, for attention models, A) in shuffled minibatches, with
    dropout -> mean training loss."""
    order = rng.permutation(len(data["y"]))
    batches = (sequence_inputs(model, data, order[s:s + batch_size]) for s in range(0, len(order), batch_size))
    return train_batches(model, optimiser, batches, rng, max_norm)


# -- the training run ---------------------------------------------------------------------------------------------

def run_training(config, log=print):
    """One training run as ``python -m tinyalstm.train`` describes it, from its options (a dict: the CLI's
    arguments) -> the result dict written to result.json (None when a non-finite loss stopped it).

    The --out folder is locked for the run and never overwritten silently (run/folder.py); a resumed run must
    have the options of the run it continues, checked before any data is prepared; SIGINT / SIGTERM end it with
    a message naming the epoch and the checkpoint kept."""
    with claim(config["out"], config["resume"], config.get("overwrite", False), log) as out:
        ckpt = out / "checkpoint.npz"
        if config["resume"] and ckpt.exists():
            _check_resume_early(ckpt, config)
        result = _train_in(out, ckpt, config, log)
        if result is not None and config.get("two_stream"):
            result = _two_stream(out, config, result, log)
        return result


def _two_stream(out, config, result, log):
    """VideoLSTM as its paper reports it in Table 3 (sec. 5.3: "we simply use product fusion on predictions from
    our VideoLSTM models with RGB input and optical flow input"): the RGB VideoLSTM just trained in ``out``, and a
    ConvALSTM on flow maps trained with the same options in ``out/flow-stream`` (on flow maps the motion-based
    attention of VideoLSTM reads the maps it attends, which is ConvALSTM), their video scores multiplied
    (``metrics.late_fusion``). -> the RGB run's result with ``two_stream``: the fused figures on the test set (and
    on validation when there is one) and the flow stream's own; written to result.json. None-safe: a flow stream
    stopped by a non-finite loss leaves the RGB result as it was."""
    log(f"the flow stream of the two-stream VideoLSTM: convalstm on flow maps, same options -> {out / FLOW_STREAM}")
    flow = run_training({**config, "model": "convalstm", "modality": "flow", "two_stream": False,
                         "out": str(out / FLOW_STREAM)}, log)
    if flow is None:
        return result
    said = {subset: fuse_runs(out, out / FLOW_STREAM, subset) for subset in ("test", "validation")
            if (out / f"{subset}_scores.npy").is_file()}
    fused = {k: v for subset, figures in said.items() for k, v in _result_figures(subset, figures).items()}
    own = {k: v for k, v in flow.items() if k.startswith(("test_", "validation_")) and isinstance(v, float)}
    result = {**result, "two_stream": {**fused, "flow_stream": own, "fusion": "product (VideoLSTM Table 3)"}}
    save_json(out / "result.json", result)
    convnets = ", ".join(f"{m} {v:.3f}" for m, v in (result.get("convnet") or {}).items())
    log(f"VideoLSTM, two streams fused by product (VideoLSTM Table 3): test {_figures_line(said['test'], False)}"
        f" (RGB VideoLSTM {result['test_accuracy']:.3f}, flow ConvALSTM {flow['test_accuracy']:.3f}"
        + (f"; ConvNets {convnets}" if convnets else "") + ")")
    return result


def _check_resume_early(ckpt, config):
    """The resume checks that need no data: the options the command line gives (the class list and map shape
    are checked once the data are loaded), and the epochs already done."""
    saved = read_checkpoint(ckpt, "--resume")
    check_same_options(ckpt, saved["config"], config, only=set(config))
    if saved["epoch"] > config["epochs"]:
        raise CheckpointError(f"--epochs {config['epochs']}: {ckpt} has already trained {saved['epoch']} epochs; "
                              f"give --epochs {saved['epoch']} or more to continue it (python -m tinyalstm.evaluate "
                              f"scores it as it is)")


def _train_in(out, ckpt, config, log):
    t_start = time.perf_counter()
    data = run_data(config, log)
    config = {**config, "device": backend.get_device(), "classes": data.classes,
              "feature_shape": list(data.feature_shape), "input_shapes": {m: list(v) for m, v in data.shapes.items()},
              "rows_per_step": dict(data.rates), "train_videos": len(data.train),
              "validation_videos": len(data.val), "test_videos": len(data.test), "convnet": data.convnet,
              **({"dataset_options": data.options} if data.options else {})}   # which benchmark (evaluate --root)
    C, name, modality = len(data.classes), config["model"], config["modality"]
    if name == CONVNET:
        return _convnet_run(out, config, data, log)
    model = build_run_model(config, data)
    opt = build_optimizer(config, -(-len(data.train) // config["batch_size"]))
    reader = run_reader(config, data)
    dtype, frames, epochs = model.dtype, config["frames"], config["epochs"]
    start, rng, metrics = 0, np.random.default_rng(config["seed"]), []
    if config["resume"] and ckpt.exists():
        start, rng, metrics = load_checkpoint(ckpt, model, opt, config)
        log(f"resumed from {ckpt} after epoch {start}")
    elif config["resume"]:
        log(f"--resume: no checkpoint in {out}, starting from scratch")
    if config.get("init_from") and not start:                 # a resumed fine-tuning run has its own weights
        init_from(config["init_from"], model, config, log)
    save_json(out / "config.json", config)                       # only now: a refused resume leaves it as it was
    save_text(out / "metrics.jsonl", "".join(json.dumps(m) + "\n" for m in metrics))
    log(f"training {name} on {len(data.train)} videos, windows of {frames} frames, features "
        f"{', '.join(f'{m} {tuple(v)}' for m, v in data.shapes.items())}, device {backend.get_device()}")
    epoch, best_ckpt, patience = start, out / "best.npz", config.get("patience", 0)
    try:
        for epoch in range(start + 1, epochs + 1):
            if patience and _epochs_since_best(metrics) >= patience:       # a resumed run that had stopped
                break
            t0 = time.perf_counter()
            try:
                batches = training_batches(reader, data.train, frames, config["batch_size"], rng, dtype,
                                           config.get("flip", False))
                loss = train_batches(model, opt, progress(batches, -(-len(data.train) // config["batch_size"]),
                                                          f"epoch {epoch}", "batches", leave=False, lines=False),
                                     rng)
            except FloatingPointError as err:
                log(f"stopped at epoch {epoch}: {err}. The last good checkpoint ({ckpt}, epoch {epoch - 1}) is "
                    f"kept; lower --lr and rerun with --resume.")
                return None
            scored = "val" if data.val else "test"        # with a validation split the test set waits for the end
            scores, labels, _ = evaluate_videos(model, reader, data.val or data.test, frames,
                                                config["eval_windows"], dtype)
            figures = video_metrics(scores, labels)
            row = {"epoch": epoch, "train_loss": loss, **{f"{scored}_{k}": v for k, v in figures.items()},
                   "seconds": time.perf_counter() - t0}
            if patience and _epochs_since_best(metrics + [row]) == 0:      # the best so far on validation
                save_checkpoint(best_ckpt, model, opt, epoch, rng, metrics + [row], config)
            save_checkpoint(ckpt, model, opt, epoch, rng, metrics + [row], config)
            metrics.append(row)
            save_text(out / "metrics.jsonl", "".join(json.dumps(m) + "\n" for m in metrics))
            done = [m["seconds"] for m in metrics[start:]]
            log(f"epoch {epoch:3d}/{epochs}  loss {loss:.4f}  {scored} {_figures_line(figures)}  "
                f"({row['seconds']:.1f} s, {config['eval_windows']} windows/video; ETA "
                f"{eta(len(done), epochs - start, sum(done))})")
            if patience and _epochs_since_best(metrics) >= patience:
                log(f"early stop: the validation loss has not improved for {patience} epochs (best: epoch "
                    f"{_best_epoch(metrics)})")
                break
        epoch = epochs + 1
        chosen = len(metrics)
        if patience and best_ckpt.exists():                # early stopping tests the best epoch on validation
            chosen = _best_epoch(metrics)
            load_checkpoint(best_ckpt, model, RMSprop(), config, what="the best checkpoint")
            log(f"testing the best epoch on validation: epoch {chosen} (validation loss "
                f"{metrics[chosen - 1]['val_loss']:.4f})")
        chunks = config.get("test_chunks", 0)
        scores, labels, attention = evaluate_videos(model, reader, data.test, frames, 25, dtype, keep_attention=3,
                                                    chunks=chunks)
    except KeyboardInterrupt:
        kept = len(metrics)
        where = "the final evaluation" if epoch > epochs else f"epoch {epoch}"
        log(f"interrupted in {where}; last checkpoint: epoch {kept} ({ckpt if kept else 'none yet'}); continue "
            f"with --resume")
        raise
    figures = video_metrics(scores, labels)
    result = {"model": name, "modality": modality, **_result_figures("test", figures),
              **({} if data.multilabel else {"chance": 1 / C}), "convnet": data.convnet, "epochs": len(metrics),
              "resumed_after_epoch": start,
              "chosen_epoch": chosen,
              "windows": 25, "test_protocol": (f"{chunks} random chunks + their mirrored copies (aLSTM)" if chunks
                                               else "25 evenly spaced windows (VideoLSTM)"),
              "seconds": time.perf_counter() - t_start}
    if data.val:
        v_scores, v_labels, _ = evaluate_videos(model, reader, data.val, frames, 25, dtype, chunks=chunks)
        result.update(_result_figures("validation", video_metrics(v_scores, v_labels)))
        save_npy(out / "validation_scores.npy", v_scores)          # for choices made on fusions of runs
        save_npy(out / "validation_labels.npy", v_labels)
        _localization(config, model, data.val, reader, result, log, key="validation_localization")
    _localization(config, model, data.test, reader, result, log)
    save_json(out / "result.json", result)
    save_npy(out / "test_scores.npy", scores)
    save_npy(out / "test_labels.npy", labels)
    _pictures(config, data, metrics, attention, out, log, chosen if patience else None)
    said = ", ".join(f"{k.split('_')[1].replace('map', 'mAP')} {v:.3f}" for k, v in _result_figures("test", figures)
                     .items())
    log(f"{name}: test {said} (" + ("" if data.multilabel else f"chance {1 / C:.3f}; ") + f"{result['test_protocol']})"
        f" in {result['seconds']:.0f} s; outputs in {out}")
    return result


def _convnet_run(out, config, data, log):
    """A ConvNet run: the frame encoder's own figure, trained and scored by the data pipeline with the features
    (VideoLSTM Table 1's ConvNet) -> its result, written beside its configuration."""
    modality, C = config["modality"], len(data.classes)
    figure = "test_map" if data.multilabel else "test_accuracy"
    result = {"model": CONVNET, "modality": modality, figure: data.convnet[modality]}
    save_json(out / "config.json", config)
    save_json(out / "result.json", result)
    log(f"ConvNet ({modality}) {figure.replace('_', ' ').replace('map', 'mAP')} {result[figure]:.3f}"
        + ("" if data.multilabel else f" (chance {1 / C:.3f})"))
    return result


def _figures_line(figures, loss=True):
    """'loss 0.4321 acc 0.604 mAP 0.717' of ``evaluation.video_metrics`` (no accuracy for multi-label data)."""
    names = (("loss", "loss", "{:.4f}"),) * loss + (("acc", "acc", "{:.3f}"), ("map", "mAP", "{:.3f}"))
    return " ".join(f"{label} {fmt.format(figures[k])}" for k, label, fmt in names if k in figures)


def _result_figures(subset, figures):
    """result.json's names for ``video_metrics`` figures: <subset>_accuracy (single-label only), <subset>_map."""
    return {f"{subset}_{'accuracy' if k == 'acc' else k}": v for k, v in figures.items() if k != "loss"}


def _localization(config, model, videos, reader, result, log, key="localization"):
    """On the built-in benchmark, where the attention goes over ``videos`` (experiment/localization.py) into
    result[key]; a problem is reported, never fatal."""
    try:
        figures = run_localization(config, model, videos, reader, log)
    except Exception as err:  # a measurement is a convenience: report, keep the run's results
        log(f"localization skipped: {type(err).__name__}: {err}")
        return
    if figures is None:
        return
    result[key] = figures
    where = key.split("_")[0] if key != "localization" else "test"
    if "temporal_mass_in_interval" in figures:
        log(f"{where}: temporal attention on the action interval {figures['temporal_mass_in_interval']:.3f} "
            f"against its share {figures['interval_share']:.3f}")
    else:
        log(f"{where}: attention in the actor box {figures['attention_in_box']:.3f} against its share "
            f"{figures['box_share']:.3f}; recall at tube IoU 0.1 {figures['recall']['0.1']:.3f} (true box at the "
            f"map's resolution {figures['recall_upper']['0.1']:.3f}); python -m tinyalstm.localize for tubes and "
            f"options")


def _ground_truth_boxes(config):
    """{key: [Tube]} of a dataset with built-in ground truth (the actor over its action); {} for others."""
    if dataset_spec(config["dataset"]).ground_truth is None:
        return {}
    return ground_truth_for(config)[0]


def _epochs_since_best(metrics):
    """Epochs since the lowest validation loss in ``metrics`` (0: the last epoch is the best; 0 without
    validation figures)."""
    losses = [m["val_loss"] for m in metrics if "val_loss" in m]
    return len(losses) - 1 - int(np.argmin(losses)) if losses else 0


def _best_epoch(metrics):
    """The epoch (1-based) of the lowest validation loss; the first of equals."""
    return metrics[int(np.argmin([m["val_loss"] for m in metrics]))]["epoch"]


def _pictures(config, data, metrics, attention, out, log, chosen=None):
    """Curves and attention overlays; a missing video or plotting problem is reported, never fatal."""
    try:
        plots.plot_curves(metrics, out / "curves.png", chosen=chosen)
        draw_window_attention(data, attention, _ground_truth_boxes(config), out)
    except Exception as err:  # pictures are a convenience: report, keep the run's results
        log(f"pictures skipped: {type(err).__name__}: {err}")


def train_sequences(model, optimiser, data, epochs, batch_size, rng, log=print):
    """``epochs`` passes of ``train_epoch`` over an in-memory ``data`` dict, logging each -> the losses."""
    losses = []
    for epoch in range(epochs):
        losses.append(train_epoch(model, optimiser, data, batch_size, rng))
        log(f"epoch {epoch + 1:2d}/{epochs}  train loss {losses[-1]:.4f}")
    return losses
