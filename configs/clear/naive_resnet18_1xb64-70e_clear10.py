# ResNet-18 instead of ResNet-50 (512-d features).
_base_ = ['./resnet50.py']
model = dict(model=dict(backbone=dict(depth=18), head=dict(in_channels=512)))
