"""Horizontal flips for training (aLSTM sec. 4.1's augmentation): a video mirrored left-right.

RGB frames (T, H, W, 3) are mirrored along the width. Flow images (T, H, W, 2) (flow.py's uint8 encoding,
``round(255 (f + b) / 2b)`` per component, channel 0 the horizontal component u) are mirrored too, and u changes
sign, which in the encoding is ``255 - value``: a point moving right moves left in the mirror. (Exactly the
encoding of -u except at rounding ties; vertical motion v is only mirrored.)
"""
import numpy as np


def flip_frames(frames, modality):
    """The left-right mirror of ``frames`` (T, H, W, C) uint8 of ``modality`` ("rgb" or "flow")."""
    if modality not in ("rgb", "flow"):
        raise ValueError(f"modality: expected 'rgb' or 'flow', got {modality!r}")
    out = np.ascontiguousarray(np.asarray(frames)[:, :, ::-1])
    if modality == "flow":
        if out.shape[-1] != 2 or out.dtype != np.uint8:
            raise ValueError(f"frames: expected uint8 flow images (T, H, W, 2), got {out.dtype} {out.shape}")
        out[..., 0] = 255 - out[..., 0]
    return out
