# REMINDER (Phan et al. 2022): PLOP + class-similarity weighted KD; synthetic-2-2.
_base_ = [
    '../_base_/models/deeplabv3_tiny_seg.py',
    '../_base_/scenarios/synthetic_seg_2-2.py',
    '../_base_/schedules/seg_sgd-poly_4e-per-step.py',
    '../_base_/default_runtime.py',
]
# With 3 old classes REMINDER's 2/K threshold would drop every similarity weight.
model = dict(type='REMINDER', threshold_scale=1.0)
