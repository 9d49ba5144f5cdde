# CLEAR's feature protocol: a linear head trained per bucket on frozen ResNet-50 features.
# lr 0.04 = 0.01 x 256 / 64 (linear scaling of the image schedule).
_base_ = [
    '../_base_/models/linear-head_clear10-features.py',
    '../_base_/scenarios/clear10_streaming-features.py',
    '../_base_/schedules/clear_sgd-steplr-70e.py',
    '../_base_/clear_runtime.py',
]
optim_wrapper = dict(optimizer=dict(lr=0.04))
default_hooks = dict(checkpoint=dict(interval=-1))  # heads are tiny: save per bucket only
