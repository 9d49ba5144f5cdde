# LwF-MC as benchmarked by MiB (LwFMC defaults: BCE classification term at every step, BCE
# distillation weight 10; see the r101 configs for the reference lines); synthetic-2-2.
_base_ = [
    '../_base_/models/deeplabv3_tiny_seg.py',
    '../_base_/scenarios/synthetic_seg_2-2.py',
    '../_base_/schedules/seg_sgd-poly_4e-per-step.py',
    '../_base_/default_runtime.py',
]
model = dict(type='LwFMC')
