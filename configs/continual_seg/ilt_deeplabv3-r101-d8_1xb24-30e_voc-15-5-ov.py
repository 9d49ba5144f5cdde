# ILT (Michieli & Zanuttigh 2019), KD 100 + encoder L2 100; voc-15-5-ov.
_base_ = [
    '../_base_/models/deeplabv3_r101-d8_seg.py',
    '../_base_/scenarios/voc_seg_15-5-ov.py',
    '../_base_/schedules/seg_sgd-poly_30e-per-step.py',
    '../_base_/default_runtime.py',
]
model = dict(type='ILT')
