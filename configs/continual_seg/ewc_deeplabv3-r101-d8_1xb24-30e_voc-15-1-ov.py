# EWC (Kirkpatrick et al. 2017), online Fisher, weight 100; voc-15-1-ov.
_base_ = [
    '../_base_/models/deeplabv3_r101-d8_seg.py',
    '../_base_/scenarios/voc_seg_15-1-ov.py',
    '../_base_/schedules/seg_sgd-poly_30e-per-step.py',
    '../_base_/default_runtime.py',
]
model = dict(type='SegEWC')
