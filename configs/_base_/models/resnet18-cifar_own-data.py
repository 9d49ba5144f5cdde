# A small ResNet-18 (CIFAR stem, 32 base channels) for RGB images of about 32 px: the model
# of the "bring your own data" recipes (configs/own_data/). Set the number of classes in
# both places: model.model.head.num_classes and model.model.data_preprocessor.num_classes.
# mean/std: ImageNet's RGB statistics on the 0..255 scale (replace them with your data's);
# to_rgb=True because image files are decoded as BGR (set False for RGB arrays).
model = dict(
    type='Naive',
    model=dict(
        type='ImageClassifier',
        data_preprocessor=dict(
            type='ClsDataPreprocessor', num_classes=10,
            mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375], to_rgb=True),
        backbone=dict(type='ResNet_CIFAR', depth=18, in_channels=3, stem_channels=32,
                      base_channels=32, num_stages=4, out_indices=(3, )),
        neck=dict(type='GlobalAveragePooling'),
        head=dict(type='LinearClsHead', num_classes=10, in_channels=256,
                  loss=dict(type='CrossEntropyLoss', loss_weight=1.0)),
    ),
)
