# EWC (Kirkpatrick et al. 2017), online Fisher, weight 100; ade-100-50.
_base_ = [
    '../_base_/models/deeplabv3_r101-d8_seg.py',
    '../_base_/scenarios/ade_seg_100-50.py',
    '../_base_/schedules/seg_sgd-poly_60e-per-step.py',
    '../_base_/default_runtime.py',
]
model = dict(type='SegEWC',
             model=dict(decode_head=dict(num_classes=151)))
