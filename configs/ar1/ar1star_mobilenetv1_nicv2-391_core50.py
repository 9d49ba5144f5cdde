# AR1* with latent replay on CORe50 NICv2-391, as the PyTorch reference runs it
# (Pellegrini, Graffieti, Lomonaco & Maltoni, "Latent Replay for Real-Time Continual
# Learning", IROS 2020, arXiv:1912.01100; ~77% final top-1 with an ImageNet MobileNetV1,
# replay at conv5_4/dw, 1,500 latents).
#
# Reference: github.com/vlomonaco/ar1-pytorch at 813f977 ("fix param name for SI
# regularization"): ar1star_lat_replay.py (ALR below), params.cfg [DEFAULT] (CFG),
# utils.py, data_loader.py, models/mobilenet.py. Every value with where it is set:
#   mini-batch 128 (CFG:25); 4 epochs on every batch (CFG:26-27, ALR:165-170)
#   SGD momentum 0.9, weight decay 5e-4 on every parameter (CFG:34-35, ALR:110-112)
#   lr 0.001 on batch 0 (CFG:23, ALR:110-112), 5e-5 for every layer afterwards
#     (CFG:24; one new SGD at batch 1, ALR:126-132, kept to the end) -> inc_lr_mult=0.05,
#     no head multiplier, train_cfg.reset_optimizer=False (AR1 drops the momentum of
#     batch 0 when batch 1 starts, as the new SGD does)
#   everything below the latent layer frozen and in eval mode from batch 0 (ALR:123-124,
#     148-149; CFG:36 freeze_below_layer="lat_features.19.bn.beta")
#     -> freeze_below_latent_from_start=True
#   latent layer 19 of pytorchcv's mobilenet_w1 = conv5_4/dw (CFG:37,
#     models/mobilenet.py:56-73) -> latent_layer='conv5_4.dw'
#   no SI penalty: reg_lambda = 0 (CFG:38, ALR:103, 229) -> si_lambda=0
#   BRN instead of BN (ALR:96-99): momentum 0.01, r_max 1 -> 1.25, d_max 0 -> 0.5 by
#     4.1e-5 per sample (CFG:28, 30-32; initial r_max/d_max utils.py:234-235); from
#     batch 1: momentum 5e-5, r_max 1.25, d_max 0.5, no growth (CFG:29, ALR:126-129)
#   replay memory 1,500 (CFG:33); h = 1500 // (i + 1) random latents of batch i replace
#     random slots (ALR:262-281) -> LatentReplayBuffer(size=1500)
#   per step after batch 0: n // ((n + 1500) // 128) new images (21 for n = 300) plus
#     replayed latents (ALR:176-179) -> AR1.train_batch_size, replay_batch_size=None
#   CWR* head: bias-free 1024 -> 50 linear layer, zero training weights of the batch's
#     classes (utils.py:300-309), consolidated with sqrt(past_j / cur_j), cur_j over the
#     batch plus memory (ALR:137-142, 257, 293-294; utils.py:271-287) -> CWRStarHead
#   input: the 128x128 RGB images, / 255, ImageNet mean/std, no augmentation
#     (utils.py:184-214, data_loader.py:230)
#   test: the run's test list (sessions 3, 7, 10), every 20th image
#     (ALR:91 -> data_loader.py:155, 177-181), in batches of 128 (ALR:284-285)
#     -> scenario.test_every=20
# What remains different, and the Caffe-era variant: configs/ar1/README.md.
_base_ = ['../_base_/default_runtime.py']

data_root = 'data/core50'
# ImageNet weights (pytorchcv mobilenet_w1, as the reference, models/mobilenet.py:56)
# converted with tools/model_converters/torchvision_mobilenet_to_clbox.py
pretrained = 'checkpoints/mobilenet-v1_imagenet_clbox.pth'
brn = dict(type='BRN', momentum=0.01, r_max=1.0, d_max=0.0, max_r_max=1.25, max_d_max=0.5,
           r_d_max_inc_step=4.1e-5)

model = dict(
    type='AR1',
    model=dict(
        type='ImageClassifier',
        data_preprocessor=dict(type='ClsDataPreprocessor', num_classes=50,
                               mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375],
                               to_rgb=True),
        backbone=dict(type='MobileNetV1', widen_factor=1.0, out_indices=(13, ),
                      norm_cfg=brn,
                      init_cfg=dict(type='Pretrained', checkpoint=pretrained,
                                    prefix='backbone.')),
        neck=dict(type='GlobalAveragePooling'),  # AvgPool2d(4) on 4x4, mobilenet.py:57
        head=dict(type='CWRStarHead', num_classes=50, in_channels=1024,
                  loss=dict(type='CrossEntropyLoss', loss_weight=1.0))),
    latent_layer='conv5_4.dw',
    freeze_lower=True,
    freeze_below_latent_from_start=True,
    buffer=dict(type='LatentReplayBuffer', size=1500),
    replay_batch_size=None,  # memory covered once per epoch, as the reference
    mb_size=128,
    inc_lr_mult=0.05,        # 0.001 -> 5e-5
    inc_brn_cfg=dict(momentum=5e-5, r_max=1.25, d_max=0.5, r_d_max_inc_step=0.0),
    si_lambda=0.0)

pipeline = [dict(type='LoadImageFromFile'), dict(type='PackInputs')]
scenario = dict(type='CORe50', data_root=data_root, scenario='nicv2_391', run=0,
                object_level=True, train_pipeline=pipeline, test_pipeline=pipeline,
                test_every=20)

train_dataloader = dict(batch_size=128, num_workers=2,
                        sampler=dict(type='DefaultSampler', shuffle=True),
                        collate_fn=dict(type='default_collate'))
val_dataloader = dict(batch_size=128, num_workers=2,
                      sampler=dict(type='DefaultSampler', shuffle=False),
                      collate_fn=dict(type='default_collate'))
test_dataloader = val_dataloader
val_evaluator = dict(type='ClsStreamEvaluator', topk=(1, ))
test_evaluator = val_evaluator

optim_wrapper = dict(
    optimizer=dict(type='SGD', lr=0.001, momentum=0.9, weight_decay=5e-4))
param_scheduler = None
train_cfg = dict(type='ExperienceBasedTrainLoop', max_epochs=4, reset_optimizer=False)
# 391 experiences, each checkpoint holding the 1,500 latents (~210 MB): keep the newest
# two only (about 85 GB otherwise).
default_hooks = dict(checkpoint=dict(max_keep_ckpts=2))
