# PI / Synaptic Intelligence (Zenke et al., ICML 2017) as benchmarked by MiB (Cermelli et
# al., CVPR 2020; github.com/fcdl94/MiB, --method PI).
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
    type='PI',
    # reg_importance 500 (argparser.py:31-33).
    reg_weight=500.0,
    # w += g_k (theta_{k-1} - theta_k) at every iteration with the task-loss gradient
    # (utils/regularizer.py:164-174, train.py:124-137); Omega = max(w / (Delta^2 + 1e-20), 0)
    # (regularizer.py:187-190), summed over steps (regularizer.py:191-192).
    xi=1e-20, path_gradient='next', importance_from='task_loss',
    # Min-max scaling per tensor (regularizer.py:37-38,155; get_regularizer passes
    # normalize=not --reg_no_normalize, regularizer.py:26, off by default, argparser.py:162).
    normalize='tensor',
    model=dict(decode_head=dict(num_classes=151)))
# Known differences from MiB: SGD without Nesterov (MiB: nesterov=True, run.py:171) and a
# per-epoch poly decay (MiB: per iteration, run.py:174); mmseg's DeepLabV3 (ResNetV1c,
# output stride 8, SyncBN) instead of MiB's in-place-ABN ResNet-101 at stride 16; the
# classification term is averaged over valid pixels (MiB's reduction='none' + .mean()
# also counts the ignored ones, train.py:27,103,107).
