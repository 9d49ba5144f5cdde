# MiB (Cermelli et al. 2020): unbiased CE + unbiased KD (10) + init; voc-15-5-ov.
_base_ = [
    '../_base_/models/deeplabv3_r101-d8_seg.py',
    '../_base_/scenarios/voc_seg_15-5-ov.py',
    '../_base_/schedules/seg_sgd-poly_30e-per-step.py',
    '../_base_/default_runtime.py',
]
model = dict(type='MiB')
