# REMINDER (Phan et al., CVPR 2022): PLOP + class-similarity weighted KD; ade-100-50.
# The reference run is scripts/ade/reminder_100-50.sh of github.com/HieuPhan33/REMINDER
# (METHOD=FT with every option spelled out on line 21), whose settings are cited per key.
_base_ = [
    '../_base_/models/deeplabv3_r101-d8_seg.py',
    '../_base_/scenarios/ade_seg_100-50.py',
    '../_base_/schedules/seg_sgd-poly_60e-per-step.py',
    '../_base_/default_runtime.py',
]
model = dict(
    type='REMINDER',
    # step 0: lr 0.01 (the step-0 model the script loads, line 22, is trained by
    # reminder_100-10.sh line 44: lr 0.01, 60 epochs); step 1: lr 0.0008 (line 43).
    lr_per_step=[0.01, 0.0008],
    # CSW-KD weight 0.5 (lines 19 and 21: --csw_kd ${LOSS}); temperature 3 with the T^2
    # factor and a sum over old classes (utils/loss.py lines 327 and 359-363).
    csw_kd=dict(type='CSWKDLoss', loss_weight=0.5, temperature=3.0, teacher_eps=1e-7),
    # delta 1.0: weights below 1 / K_old are dropped (line 21: --delta_csw 1.0).
    delta=1.0,
    # prototypes: decoder output (train.py lines 429, 636), new-class pixels only (line 435),
    # old prototypes kept (run.py line 547), running mean of batch means (lines 643-647).
    prototype_source='decoder', pixels='new', keep_old_prototypes=True,
    prototype_average='batch',
    # PLOP part (line 21): local POD 0.001 on features (--pod_factor 0.001) and 0.00001 on
    # the logits (line 43, --pod_options ... "factor": 0.00001); entropy pseudo-labels with
    # threshold 0.001, adaptive factor, MiB init (--init_balanced).
    pod=dict(type='PODLoss', layer_weight=0.001, last_weight=0.00001),
    min_threshold=0.001, init_new_classes='mib',
    model=dict(decode_head=dict(num_classes=151)))
# 60 epochs at step 0 (reminder_100-10.sh line 44), 70 at step 1 (reminder_100-50.sh lines
# 20 and 43); the poly schedule spans each step's own epochs.
train_cfg = dict(max_epochs=[60, 70])
# Known difference: the reference trains with batch 10 on one GPU (reminder_100-50.sh lines
# 9-10 and 17); this config keeps the protocol's 24 of the other methods.
