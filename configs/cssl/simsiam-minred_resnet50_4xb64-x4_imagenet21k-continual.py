# Continual Full ImageNet, a 64K MinRed buffer, 4 updates per incoming batch on every 4th
# image (README "Single Pass (MinRed Buffer - 4 Updates with 1/4 data)": ...
# model.buffer_type=minred; results for R18 only, the command's arch option resnet50): the
# FIFO run with MinRed's eviction (datasets/mysampler.py MinRedBufferBatchSampler, lines
# 488-760).
_base_ = ['./simsiam-fifo_resnet50_4xb64-x4_imagenet21k-continual.py']
model = dict(buffer=dict(type='MinRedBuffer', gamma=0.5))
