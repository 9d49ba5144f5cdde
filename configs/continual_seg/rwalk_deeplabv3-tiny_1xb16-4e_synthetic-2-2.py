# RWalk as benchmarked by MiB (RWalk defaults: Fisher alpha 0.9, score every 10
# iterations, minmax(F) + minmax(score) per tensor; see the r101 configs); synthetic-2-2.
_base_ = [
    '../_base_/models/deeplabv3_tiny_seg.py',
    '../_base_/scenarios/synthetic_seg_2-2.py',
    '../_base_/schedules/seg_sgd-poly_4e-per-step.py',
    '../_base_/default_runtime.py',
]
# MiB's weight 100 goes with its step-1 lr 0.001 (2 * 100 * 0.001 = 0.2 per unit of
# importance); this schedule's step-1 lr is 10x larger (0.01), so the weight is 10x
# smaller to keep that product: at lr 0.01 and weight 100, SGD with momentum 0.9 is
# unstable on importances near their maximum (lr * 2 w Omega > 2 (1 + 0.9); PI at 500
# diverged 21 iterations into step 1).
model = dict(type='RWalk', reg_weight=10.0)
