# REMINDER (Phan et al., CVPR 2022): PLOP + class-similarity weighted KD; synthetic-2-2.
# REMINDER's defaults (the reference's VOC settings: CSW-KD weight 0.5, temperature 3,
# delta 0, decoder prototypes kept from the step that introduced each class).
_base_ = [
    '../_base_/models/deeplabv3_tiny_seg.py',
    '../_base_/scenarios/synthetic_seg_2-2.py',
    '../_base_/schedules/seg_sgd-poly_4e-per-step.py',
    '../_base_/default_runtime.py',
]
model = dict(type='REMINDER')
