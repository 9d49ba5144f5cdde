# Row 1 of the SSLAD 2021 Track 3A 3rd-place solution's ablation (README: "Uncertainty
# replay", val AMCA 57.517), the state of mrifkikurniawan/sslad at e4ca604:
# torchvision ResNet-50 (ImageNet) with fc -> Linear(2048, 7, bias=False) (methods.py
# CLStrategy), SGD lr 0.01 without momentum or weight decay, constant, plain CE, the
# uncertainty memory (1000 / sweep to 500 / 5 per update, class_strategy.py
# ClassStrategyPlugin; configs/cl_strategy.yaml memory block) with 6 class-balanced
# replayed samples per step. ../shared/specs/sslad-3a.md sec. 3-4.
_base_ = ['../_base_/scenarios/sslad3a.py', '../_base_/default_runtime.py']

# torchvision's ImageNet ResNet-50 keys load into mmpretrain's ResNet as they are
# (tests/test_tools/test_model_converters.py); bring the file (no download at run time).
pretrained = 'data/pretrained/resnet50-0676ba61.pth'
model = dict(
    type='UncertaintyReplay',
    model=dict(
        type='ImageClassifier',
        backbone=dict(type='ResNet', depth=50, out_indices=(3, ),
                      init_cfg=dict(type='Pretrained', checkpoint=pretrained)),
        neck=dict(type='GlobalAveragePooling'),   # the embedding: torchvision's avgpool
        head=dict(type='LinearHead', num_classes=7, in_channels=2048, bias=False,
                  init_cfg=None,                  # nn.Linear's own initialisation
                  loss=dict(type='CrossEntropyLoss', loss_weight=1.0))),
    buffer=dict(type='UncertaintyMemory', size=1000, sweep_size=500, per_batch=5,
                negative_weight=0.5, sweep_every=1000, views=12, num_classes=7),
    replay_batch_size=6,
    # memory transforms (cl_strategy.yaml memory_transforms), on replayed samples
    replay_augments=[dict(type='BatchRandomFlip', prob=0.5),
                     dict(type='BatchRandomRotation', degrees=10),
                     dict(type='BatchColorJitter', brightness=0.5, hue=0.5)],
    eval_after_first_update=True,   # the reference trains in eval mode after iteration 1
    sweep_batch_size=32)

optim_wrapper = dict(optimizer=dict(type='SGD', lr=0.01, momentum=0.0, weight_decay=0.0))
# constant lr (no param_scheduler); one optimizer for the whole stream (never rebuilt)
train_cfg = dict(type='OnlineTrainLoop', num_updates=1, reset_optimizer=False)
randomness = dict(seed=0, deterministic=False)   # utils.seed_everything(0)
default_hooks = dict(logger=dict(interval=100))
