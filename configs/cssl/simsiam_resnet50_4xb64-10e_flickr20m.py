# Flickr-20M, conventional, 10 epochs (senthilps8/continuous_ssl_problem README "ResNet-18 on
# Flickr-20M (Section 4)" command with model/backbone=resnet50: optim.epochs=10 optim.lr=0.05
# environment.ngpu=4; table "ResNet-50 on Flickr-20M": 57.034 ImageNet / 29.076 iNat).
# No buffer (model/default.yaml line 9, buffer_type 'none'): 10 shuffled epochs of the 20M
# images, 64 per GPU on 4 GPUs, cosine over every update (T_max = 10 passes: 781,250 per
# GPU), a checkpoint every epoch (configs/simsiam/logging/default.yaml line 2, save_freq 1).
_base_ = ['../_base_/models/simsiam_resnet50.py', '../_base_/scenarios/flickr20m_stream.py',
          '../_base_/schedules/simsiam_sgd-coslr.py']
train_cfg = dict(type='ExperienceBasedTrainLoop', max_epochs=10, eval_initial=False,
                 reset_optimizer=False)
param_scheduler = [dict(type='CosineAnnealingLR', T_max=10, end=10, by_epoch=True,
                        convert_to_iter_based=True)]
default_hooks = dict(checkpoint=dict(interval=1))
