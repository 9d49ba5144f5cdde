# Flickr-20M, conventional, single pass (README "ResNet-18 on Flickr-20M": optim.epochs=1;
# R18: 32.216 / 12.253): the 10-epoch run stopped after one epoch, cosine over its 78,125
# updates per GPU.
_base_ = ['./simsiam_resnet18_4xb64-10e_flickr20m.py']
train_cfg = dict(max_epochs=1)
param_scheduler = [dict(type='CosineAnnealingLR', T_max=1, end=1, by_epoch=True,
                        convert_to_iter_based=True)]
default_hooks = dict(checkpoint=dict(interval=-1))
