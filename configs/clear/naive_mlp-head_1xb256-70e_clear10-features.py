# CLEAR's feature protocol with a 2-layer MLP head (2048 -> 512 -> 11) instead of a linear one.
_base_ = ['./naive_linear-head_1xb256-70e_clear10-features.py']
model = dict(model=dict(head=dict(
    _delete_=True, type='StackedLinearClsHead', num_classes=11, in_channels=2048,
    mid_channels=[512], dropout_rate=0.0, act_cfg=dict(type='ReLU'),
    loss=dict(type='CrossEntropyLoss', loss_weight=1.0), topk=(1, 5))))
