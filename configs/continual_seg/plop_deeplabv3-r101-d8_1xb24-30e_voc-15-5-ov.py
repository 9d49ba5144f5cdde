# PLOP (Douillard et al., CVPR 2021): Local POD + entropy pseudo-labels; voc-15-5-ov.
# The reference run is scripts/voc/plop_15-5.sh of
# github.com/arthurdouillard/CVPR2021_PLOP (task "15-5", --overlap, --method PLOP),
# whose settings are cited per key below (PLOP's code: argparser.py, train.py, commit
# 4b4a060).
_base_ = [
    '../_base_/models/deeplabv3_r101-d8_seg.py',
    '../_base_/scenarios/voc_seg_15-5-ov.py',
    '../_base_/schedules/seg_sgd-poly_30e-per-step.py',
    '../_base_/default_runtime.py',
]
model = dict(
    type='PLOP',
    # lr 0.01 at step 0, 0.001 later (scripts/voc/plop_15-5.sh lines 44 and 45); 30
    # epochs per step (lines 41-42) and batch 2 x 12 = 24 (lines 11 and 40) come from
    # the bases.
    lr_per_step=[0.01, 0.001],
    # Local POD (argparser.py lines 49-53: --method PLOP): weight 0.01 on the backbone stages
    # and the decoder features, 0.0005 on the logits; regions of W // s on both axes
    # (train.py line 985), squared maps, no normalisation (lines 754, 839-841).
    pod=dict(type='PODLoss', layer_weight=0.01, last_weight=0.0005, region_size='width'),
    # POD inputs: stage outputs before their last activation (models/resnet.py lines
    # 118-148, modules/residual.py lines 125-137) and the logits before upsampling
    # (--pod_logits, argparser.py line 52; train.py lines 411-413).
    pod_backbone='pre_relu', pod_logits='small',
    # Entropy pseudo-labels (argparser.py lines 54-55): the reference's entropy scale
    # (train.py lines 701-713, 535), thresholds = its 100-bin histogram median (lines
    # 513-573, quirks included) floored at --threshold 0.001 (lines 582-584).
    entropy_scale='reference', threshold_median='histogram', threshold_bins=100,
    min_threshold=0.001,
    # --classif_adaptive_factor (argparser.py line 56; train.py lines 284-293): confident
    # background share num / (den + 1e-6), 0 for an image without background.
    no_background_weight=0.0,
    # --init_balanced (argparser.py line 57): new classes from the background.
    init_new_classes='mib')
# Known difference: the reference's DeepLabV3 has output stride 16 (argparser.py lines
# 207-213) and in-place ABN; this config keeps the protocol's mmseg DeepLabV3 at stride 8.
