# Buffered continuous SimSiam on a small stream that runs anywhere (seconds on a CPU):
# scikit-learn's digits (embedded) streamed once in incoming batches of 16, a 128-slot
# MinRed buffer, 2 updates per incoming batch (stream length x 2 / 16 updates in all), a
# kNN probe on the digits training split after the pass. The method and buffer are those
# of Purushwalkam et al., ECCV 2022 (senthilps8/continuous_ssl_problem); the paper-scale
# runs (Kinetics, Flickr, continual ImageNet) need their datasets and GPUs.
_base_ = ['../_base_/default_runtime.py']

view = [
    dict(type='RandomResizedCrop', scale=8, crop_ratio_range=(0.5, 1.0), backend='cv2'),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
]
train_pipeline = [dict(type='MultiView', num_views=2, transforms=[view]),
                  dict(type='PackInputs')]
test_pipeline = [dict(type='PackInputs')]

scenario = dict(
    type='OnlineStream', batch_size=16, boundaries='given', shuffle=True,
    scenario=dict(
        type='ClassIncremental', num_experiences=1,
        train=dict(type='Digits', split='train', pipeline=train_pipeline),
        test=dict(type='Digits', split='test', pipeline=test_pipeline)))

model = dict(
    type='ContinualSimSiam',
    buffer=dict(type='MinRedBuffer', size=128),
    model=dict(
        type='SimSiam',
        data_preprocessor=dict(type='SelfSupDataPreprocessor', mean=[77.8], std=[96.0],
                               to_rgb=False),
        backbone=dict(type='ResNet_CIFAR', depth=18, in_channels=1, stem_channels=16,
                      base_channels=16, zero_init_residual=True),
        neck=dict(type='NonLinearNeck', in_channels=128, hid_channels=128,
                  out_channels=128, num_layers=3, with_last_bn_affine=False,
                  with_avg_pool=True),
        head=dict(type='LatentPredictHead', loss=dict(type='CosineSimilarityLoss'),
                  predictor=dict(type='NonLinearNeck', in_channels=128, hid_channels=32,
                                 out_channels=128, with_avg_pool=False, with_last_bn=False,
                                 with_last_bias=True))))

# SGD 0.05 per 256 (scaled to the batch of 16), momentum 0.9, weight decay 1e-4, the
# predictor at a fixed learning rate, cosine over every update (reference recipe, sec. 4)
lr = 0.05 * 16 / 256
optim_wrapper = dict(optimizer=dict(type='SGD', lr=lr, momentum=0.9, weight_decay=1e-4),
                     paramwise_cfg=dict(custom_keys={'predictor': dict(fix_lr=True)}))
param_scheduler = [dict(type='CosineAnnealingLR', by_epoch=False, T_max=180)]
custom_hooks = [dict(type='ContinualResultsHook'), dict(type='ProgressBarHook'),
                dict(type='SimSiamHook', priority='HIGH', fix_pred_lr=True, lr=lr,
                     adjust_by_epoch=False)]

train_cfg = dict(type='OnlineTrainLoop', num_updates=2, eval_initial=False,
                 reset_optimizer=False)
train_dataloader = dict(batch_size=16, num_workers=0, collate_fn=dict(type='default_collate'))
val_dataloader = dict(batch_size=256, num_workers=0, sampler=dict(type='DefaultSampler',
                                                                  shuffle=False),
                      collate_fn=dict(type='default_collate'))
test_dataloader = val_dataloader
val_cfg = dict(type='StreamValLoop')
test_cfg = dict(type='StreamTestLoop')
val_evaluator = dict(type='KNNStreamEvaluator', k=10,
                     bank=dict(type='Digits', split='train', pipeline=test_pipeline))
test_evaluator = val_evaluator
