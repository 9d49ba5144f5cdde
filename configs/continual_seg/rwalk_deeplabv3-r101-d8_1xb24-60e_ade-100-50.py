# RWalk (Chaudhry et al., ECCV 2018) as benchmarked by MiB (Cermelli et al., CVPR 2020;
# github.com/fcdl94/MiB, --method RW).
# Setting: ADE20K 100-50 (MiB task "100-50").
# Protocol (shared _base_ files): lr 0.01 at step 0 and 0.001 later (MiB README.md:48),
# batch 24 in total (README.md:49: 24 / num_GPUs per process), 60 epochs per step
# (README.md:50).
_base_ = [
    '../_base_/models/deeplabv3_r101-d8_seg.py',
    '../_base_/scenarios/ade_seg_100-50.py',
    '../_base_/schedules/seg_sgd-poly_60e-per-step.py',
    '../_base_/default_runtime.py',
]
model = dict(
    type='RWalk',
    # reg_importance 100 (argparser.py:28-30).
    reg_weight=100.0,
    # EWC's online Fisher, alpha 0.9 (argparser.py:160; utils/regularizer.py:276-279); a
    # score every 10 iterations (reg_iterations, argparser.py:164): the current task-loss
    # gradient times the window's move over 0.5 F move^2 + 1e-8 (regularizer.py:4,261-274),
    # clipped at 0 and averaged with the previous steps' (regularizer.py:281-287).
    alpha=0.9, score_interval=10, eps=1e-8, score_estimate='endpoint',
    importance_from='task_loss',
    # Importance = minmax(F) + minmax(score), per tensor (regularizer.py:231-243).
    normalize='tensor',
    model=dict(decode_head=dict(num_classes=151)))
# Known differences from MiB: SGD without Nesterov (MiB: nesterov=True, run.py:171) and a
# per-epoch poly decay (MiB: per iteration, run.py:174); mmseg's DeepLabV3 (ResNetV1c,
# output stride 8, SyncBN) instead of MiB's in-place-ABN ResNet-101 at stride 16; the
# classification term is averaged over valid pixels (MiB's reduction='none' + .mean()
# also counts the ignored ones, train.py:27,103,107).
