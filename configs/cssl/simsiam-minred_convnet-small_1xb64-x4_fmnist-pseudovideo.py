# MinRed x4: one pass over the correlated pseudo-video stream (file order), a 512-sample
# MinRed buffer, 4 updates per incoming batch of 64 (4,000 updates). The small-scale
# analogue of the reference's Kinetics "MinRed x5" row (buffer 64K, 5 updates, R18).
_base_ = ['../_base_/models/simsiam_convnet-small.py',
          '../_base_/scenarios/fmnist_pseudo-video.py', '../_base_/default_runtime.py']
model = dict(buffer=dict(type='MinRedBuffer', size=512))
# SGD 0.05 per 256 scaled to the batch (the mmpretrain mapping of the spec, sec. 6),
# momentum 0.9, weight decay 1e-4, predictor at a fixed lr, cosine over all 4,000 updates
lr = 0.05 * 64 / 256
optim_wrapper = dict(optimizer=dict(type='SGD', lr=lr, momentum=0.9, weight_decay=1e-4),
                     paramwise_cfg=dict(custom_keys={'predictor': dict(fix_lr=True)}))
param_scheduler = [dict(type='CosineAnnealingLR', by_epoch=False, T_max=4000)]
custom_hooks = [dict(type='ContinualResultsHook'), dict(type='ProgressBarHook'),
                dict(type='SimSiamHook', priority='HIGH', fix_pred_lr=True, lr=lr,
                     adjust_by_epoch=False)]
train_cfg = dict(type='OnlineTrainLoop', num_updates=4, shuffle=False, eval_initial=False,
                 reset_optimizer=False)
