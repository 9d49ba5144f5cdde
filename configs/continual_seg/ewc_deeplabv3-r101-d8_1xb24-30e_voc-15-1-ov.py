# EWC (Kirkpatrick et al., PNAS 2017) as benchmarked by MiB (Cermelli et al., CVPR 2020;
# github.com/fcdl94/MiB, --method EWC).
# Setting: VOC 15-1 overlapped (MiB task "15-5s" --overlap, argparser.py:194).
# Protocol (shared _base_ files): lr 0.01 at step 0 and 0.001 later (MiB README.md:48),
# batch 24 in total (README.md:49: 24 / num_GPUs per process), 30 epochs per step
# (README.md:50).
_base_ = [
    '../_base_/models/deeplabv3_r101-d8_seg.py',
    '../_base_/scenarios/voc_seg_15-1-ov.py',
    '../_base_/schedules/seg_sgd-poly_30e-per-step.py',
    '../_base_/default_runtime.py',
]
model = dict(
    type='SegEWC',
    # reg_importance 500 (argparser.py:25-27).
    reg_weight=500.0,
    # Online Fisher F <- 0.9 g^2 + 0.1 F at every iteration (reg_alpha, argparser.py:160;
    # utils/regularizer.py:96-99) from the task-loss gradients, taken before the penalty's
    # backward (train.py:124-137); started at one (regularizer.py:92-94) and carried over
    # steps; the latest one is the next step's importance (regularizer.py:84-86).
    alpha=0.9, importance_from='task_loss', fisher_merge='latest',
    # Min-max scaling per tensor (regularizer.py:37-38,84; --reg_no_normalize off,
    # argparser.py:162), each step's classifier rows a tensor of their own.
    normalize='tensor')
# Known differences from MiB: SGD without Nesterov (MiB: nesterov=True, run.py:171) and a
# per-epoch poly decay (MiB: per iteration, run.py:174); mmseg's DeepLabV3 (ResNetV1c,
# output stride 8, SyncBN) instead of MiB's in-place-ABN ResNet-101 at stride 16; the
# classification term is averaged over valid pixels (MiB's reduction='none' + .mean()
# also counts the ignored ones, train.py:27,103,107).
