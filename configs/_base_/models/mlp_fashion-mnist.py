# A 784-400-400-10 MLP with ReLU (no dropout) for 28x28 one-channel Fashion-MNIST.
# mean/std: Fashion-MNIST training-set pixel statistics on the 0..255 scale (72.94, 90.02).
# Every Linear keeps PyTorch's default initialisation (the head's init_cfg=None drops
# mmpretrain's Normal(std=0.01)), as a plain torch.nn MLP has.
model = dict(
    type='Naive',
    model=dict(
        type='ImageClassifier',
        data_preprocessor=dict(
            type='ClsDataPreprocessor', num_classes=10, mean=[72.94], std=[90.02],
            to_rgb=False),
        backbone=dict(type='MLP', in_channels=784, hidden_channels=[400, 400], dropout=0.0),
        head=dict(type='LinearClsHead', num_classes=10, in_channels=400,
                  loss=dict(type='CrossEntropyLoss', loss_weight=1.0), init_cfg=None),
    ),
)
