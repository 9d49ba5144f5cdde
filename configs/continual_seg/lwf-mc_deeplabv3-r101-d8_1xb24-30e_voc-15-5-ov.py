# LwF-MC (Rebuffi et al., iCaRL, CVPR 2017, without exemplars) as benchmarked by MiB
# (Cermelli et al., CVPR 2020; github.com/fcdl94/MiB, --method LWF-MC).
# Setting: VOC 15-5 overlapped (MiB task "15-5" --overlap, argparser.py:194).
# Protocol (shared _base_ files): lr 0.01 at step 0 and 0.001 later (MiB README.md:48),
# batch 24 in total (README.md:49: 24 / num_GPUs per process), 30 epochs per step
# (README.md:50).
_base_ = [
    '../_base_/models/deeplabv3_r101-d8_seg.py',
    '../_base_/scenarios/voc_seg_15-5-ov.py',
    '../_base_/schedules/seg_sgd-poly_30e-per-step.py',
    '../_base_/default_runtime.py',
]
model = dict(
    type='LwFMC',
    # Per-class BCE as the classification term at every step (--method LWF-MC sets icarl,
    # argparser.py:19-21, which selects BCEWithLogitsLossWithIgnoreIndex, train.py:29-31,
    # utils/loss.py:31-54); mean over valid pixels (see the known differences).
    cls_loss='bce', pixel_mean='valid',
    # From step 1: icarl_importance 10 (argparser.py:21) x C_old x BCE(x_old,
    # sigmoid(teacher)) over all pixels (train.py:53-57,109-114).
    distill=dict(type='SegBCEDistillLoss', loss_weight=10.0))
# Known differences from MiB: SGD without Nesterov (MiB: nesterov=True, run.py:171) and a
# per-epoch poly decay (MiB: per iteration, run.py:174); mmseg's DeepLabV3 (ResNetV1c,
# output stride 8, SyncBN) instead of MiB's in-place-ABN ResNet-101 at stride 16; the
# classification term is averaged over valid pixels (MiB's reduction='none' + .mean()
# also counts the ignored ones, train.py:27,103,107).
# MiB's BCE divides by all B*H*W pixels of its unpadded crops (void borders count);
# clbox pads crops of small images with the ignore label, so pixel_mean='all' would
# also count padding: 'valid' is the default.
