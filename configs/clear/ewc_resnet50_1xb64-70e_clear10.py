# Elastic Weight Consolidation.
_base_ = ['./resnet50.py']
model = dict(type='EWC', ewc_lambda=100.0)
