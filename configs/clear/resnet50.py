# CLEAR-10, streaming protocol, ResNet-50 trained from scratch with naive fine-tuning:
# 70 epochs per bucket, batch 64, SGD lr 0.01, StepLR(30, 0.1) restarted every bucket.
# Same as naive_resnet50_1xb64-70e_clear10.py; kept under the name users know.
_base_ = [
    '../_base_/models/resnet50_clear10.py',
    '../_base_/scenarios/clear10_streaming.py',
    '../_base_/schedules/clear_sgd-steplr-70e.py',
    '../_base_/clear_runtime.py',
]
