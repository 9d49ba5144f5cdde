# AR1* with latent replay on CORe50 NICv2-391 (Pellegrini et al., "Latent Replay for
# Real-Time Continual Learning", IROS 2020, arXiv:1912.01100; reported ~77% final
# accuracy with ImageNet-pretrained MobileNetV1, replay at conv5_4/dw, 1,500 latents).
#
# Hyperparameters and their source (reference code: github.com/lrzpellegrini/Latent-Replay,
# "Project Source/NIC_v2/NIC_v2_391/rehe_lat" solvers and "Run experiments/*.py"; Avalanche
# 0.6 `AR1` strategy for the PyTorch port):
#   mini-batch 128, replay memory 1,500, latent layer conv5_4/dw  (prepare_experiment.py)
#   lr 0.001 on the first batch (NIC_solver_MobileNetV1_first_batch.prototxt), 0.0003 after
#   (NIC_solver_MobileNetV1_AR1S.prototxt) -> inc_lr_mult=0.3; momentum 0.9, weight decay
#   5e-4 (both solvers); CWR* layer lr x10 (cwr_lr_mult=10 for AR1S); 4 epochs per batch
#   (num_epochs); SI-style penalty maxF=0.001 ("momentum2" of the AR1S solver), c=0.0015
#   (syn.py); BRN r_max 1.25, d_max 0.5 after the first batch (brn prototxts), momentum
#   0.01 then 5e-5, r/d growth 4.1e-5 per sample (Avalanche AR1 defaults).
_base_ = ['../_base_/default_runtime.py']

data_root = 'data/core50'
# ImageNet weights converted with tools/model_converters/torchvision_mobilenet_to_clbox.py
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
        neck=dict(type='GlobalAveragePooling'),
        head=dict(type='CWRStarHead', num_classes=50, in_channels=1024,
                  loss=dict(type='CrossEntropyLoss', loss_weight=1.0))),
    latent_layer='conv5_4.dw',
    buffer=dict(type='LatentReplayBuffer', size=1500),
    replay_batch_size=None,  # memory covered once per epoch, as the reference
    mb_size=128,
    inc_lr_mult=0.3,
    inc_brn_cfg=dict(momentum=5e-5, r_max=1.25, d_max=0.5, r_d_max_inc_step=0.0),
    si_lambda=1.0, si_c=0.0015, si_eps=1e-7, si_max_f=0.001)

pipeline = [dict(type='LoadImageFromFile'), dict(type='PackInputs')]
scenario = dict(type='CORe50', data_root=data_root, scenario='nicv2_391', run=0,
                object_level=True, train_pipeline=pipeline, test_pipeline=pipeline)

train_dataloader = dict(batch_size=128, num_workers=2,
                        sampler=dict(type='DefaultSampler', shuffle=True),
                        collate_fn=dict(type='default_collate'))
val_dataloader = dict(batch_size=256, num_workers=2,
                      sampler=dict(type='DefaultSampler', shuffle=False),
                      collate_fn=dict(type='default_collate'))
test_dataloader = val_dataloader
val_evaluator = dict(type='ClsStreamEvaluator', topk=(1, ))
test_evaluator = val_evaluator

optim_wrapper = dict(
    optimizer=dict(type='SGD', lr=0.001, momentum=0.9, weight_decay=5e-4),
    paramwise_cfg=dict(custom_keys={'model.head': dict(lr_mult=10)}))
param_scheduler = None
train_cfg = dict(type='ExperienceBasedTrainLoop', max_epochs=4, reset_optimizer=True)
# 391 experiences, each checkpoint holding the 1,500 latents (~210 MB): keep the newest
# two only (about 85 GB otherwise).
default_hooks = dict(checkpoint=dict(max_keep_ckpts=2))
