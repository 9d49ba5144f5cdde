# A small ResNet-18 (CIFAR stem, 32 base channels) for 8x8 one-channel digits.
# mean/std: scikit-learn digits pixel statistics scaled to 0..255.
model = dict(
    type='Naive',
    model=dict(
        type='ImageClassifier',
        data_preprocessor=dict(
            type='ClsDataPreprocessor', num_classes=10, mean=[77.8], std=[96.0],
            to_rgb=False),
        backbone=dict(type='ResNet_CIFAR', depth=18, in_channels=1, stem_channels=32,
                      base_channels=32, num_stages=4, out_indices=(3, )),
        neck=dict(type='GlobalAveragePooling'),
        head=dict(type='LinearClsHead', num_classes=10, in_channels=256,
                  loss=dict(type='CrossEntropyLoss', loss_weight=1.0)),
    ),
)
