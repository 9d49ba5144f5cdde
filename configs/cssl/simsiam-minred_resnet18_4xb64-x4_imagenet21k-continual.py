# Continual Full ImageNet, a 64K MinRed buffer, 4 updates per incoming batch on every 4th
# image (README "Single Pass (MinRed Buffer - 4 Updates with 1/4 data)": ...
# model.buffer_type=minred; R18: accuracy 11.41-11.75-11.91-11.93, forgetting D0
# 1.93-2.86-4.28, D1 1.99-2.86, D2 1.92): the FIFO run with MinRed's eviction
# (datasets/mysampler.py MinRedBufferBatchSampler, lines 488-760).
_base_ = ['./simsiam-fifo_resnet18_4xb64-x4_imagenet21k-continual.py']
model = dict(buffer=dict(type='MinRedBuffer', gamma=0.5))
