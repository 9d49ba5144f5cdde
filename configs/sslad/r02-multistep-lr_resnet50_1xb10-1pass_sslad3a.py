# Row 2 ("Multi-step LR", val 59.591; commit 2ff2078): MultiStepLR milestones [1000, 2000],
# gamma 0.1, stepped every training iteration on a counter that runs across tasks
# (class_strategy.py after_update: lr_scheduler.step()).
_base_ = ['./r01-uncertainty-replay_resnet50_1xb10-1pass_sslad3a.py']
param_scheduler = dict(type='MultiStepLR', by_epoch=False, milestones=[1000, 2000], gamma=0.1)
