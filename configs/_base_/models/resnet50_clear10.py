# ResNet-50 + global average pooling + a linear head over CLEAR-10's 11 classes (10 + BACKGROUND),
# fine-tuned naively bucket after bucket. ImageNet mean/std in the data preprocessor, as
# torchvision's Normalize in the CLEAR baselines (Lin et al., NeurIPS 2021).
model = dict(
    type='Naive',
    model=dict(
        type='ImageClassifier',
        data_preprocessor=dict(
            type='ClsDataPreprocessor', num_classes=11,
            mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375], to_rgb=True),
        backbone=dict(type='ResNet', depth=50, num_stages=4, out_indices=(3, ),
                      style='pytorch'),
        neck=dict(type='GlobalAveragePooling'),
        head=dict(type='LinearClsHead', num_classes=11, in_channels=2048,
                  loss=dict(type='CrossEntropyLoss', loss_weight=1.0), topk=(1, 5)),
    ),
)
