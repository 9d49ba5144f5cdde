# EWC as benchmarked by MiB (SegEWC defaults: online Fisher alpha 0.9, latest
# Fisher, per-tensor min-max; see the r101 configs for the reference lines); synthetic-2-2.
_base_ = [
    '../_base_/models/deeplabv3_tiny_seg.py',
    '../_base_/scenarios/synthetic_seg_2-2.py',
    '../_base_/schedules/seg_sgd-poly_4e-per-step.py',
    '../_base_/default_runtime.py',
]
# MiB's weight 500 goes with its step-1 lr 0.001 (2 * 500 * 0.001 = 1 per unit of
# importance); this schedule's step-1 lr is 10x larger (0.01), so the weight is 10x
# smaller to keep that product: at lr 0.01 and weight 500, SGD with momentum 0.9 is
# unstable on importances near their maximum (lr * 2 w Omega > 2 (1 + 0.9); PI at 500
# diverged 21 iterations into step 1).
model = dict(type='SegEWC', reg_weight=50.0)
