# PLOP (Douillard et al., CVPR 2021): Local POD + entropy pseudo-labels; ade-100-50.
# The reference run is scripts/ade/plop_ade_100-50.sh of
# github.com/arthurdouillard/CVPR2021_PLOP (METHOD=FT with every PLOP option spelled out on
# line 19, --overlap), whose settings are cited per key below (PLOP's code: argparser.py,
# train.py, commit 4b4a060).
_base_ = [
    '../_base_/models/deeplabv3_r101-d8_seg.py',
    '../_base_/scenarios/ade_seg_100-50.py',
    '../_base_/schedules/seg_sgd-poly_60e-per-step.py',
    '../_base_/default_runtime.py',
]
model = dict(
    type='PLOP',
    # lr 0.01 at step 0, 0.001 at step 1 (lines 39-40); 60 epochs per step and batch
    # 2 x 12 = 24 (lines 11, 39-40) come from the bases.
    lr_per_step=[0.01, 0.001],
    # Local POD: weight 0.001 on the backbone stages and the decoder features (line 19:
    # --pod local --pod_factor 0.001), 0.00001 on the logits (line 40: --pod_options
    # ... "factor": 0.00001); regions of W // s on both axes (train.py line 985), squared
    # maps, no normalisation (lines 754, 839-841).
    pod=dict(type='PODLoss', layer_weight=0.001, last_weight=0.00001, region_size='width'),
    # POD inputs: stage outputs before their last activation (models/resnet.py lines
    # 118-148, modules/residual.py lines 125-137) and the logits before upsampling
    # (line 19: --pod_logits; train.py lines 411-413).
    pod_backbone='pre_relu', pod_logits='small',
    # Entropy pseudo-labels (line 19: --pseudo entropy --threshold 0.001): the reference's
    # entropy scale (train.py lines 701-713, 535), thresholds = its 100-bin histogram
    # median (lines 513-573, quirks included; on ADE's 101 old classes every entropy falls
    # in the first bin and the threshold keeps all background pixels) floored at 0.001
    # (lines 582-584).
    entropy_scale='reference', threshold_median='histogram', threshold_bins=100,
    min_threshold=0.001,
    # --classif_adaptive_factor (line 19; train.py lines 284-293): confident background
    # share num / (den + 1e-6), 0 for an image without background.
    no_background_weight=0.0,
    # --init_balanced (line 19): new classes from the background.
    init_new_classes='mib',
    model=dict(decode_head=dict(num_classes=151)))
# Known difference: the reference's DeepLabV3 has output stride 16 (argparser.py lines
# 207-213) and in-place ABN; this config keeps the protocol's mmseg DeepLabV3 at stride 8.
