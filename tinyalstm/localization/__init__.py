"""Action localization from attention (VideoLSTM sec. 4 and 5.4): tubes and their metrics, and the one tube per
video that eqs. 16-17 read off the attention maps.

- ``tubes``            ``Tube``, box IoU, tube IoU, recall at tube-IoU thresholds (Fig. 4a), video-mAP (Fig. 4b)
- ``attention_tubes``  saliency maps, candidate boxes (eq. 16), linking (eq. 17), LOWESS smoothing, tube scores
"""
