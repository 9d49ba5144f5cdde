# SimSiam with the ~97k-parameter SmallConvNet on 28x28 one-channel images: widths
# 16-32-64-128, every block strided (28 -> 14 -> 7 -> 4 -> 2), 128-d pooled features (the size
# of the prototype, a 97k-parameter 4-layer CNN); projector 128-128-128 (3 layers,
# last BN without affine), predictor 128-32-128 (the 4x bottleneck of SimSiam's 2048-512),
# cosine loss: the shapes of the reference's R18 recipe (dim 512, pred_dim 128) scaled down
# 4x. Measured on the decorrelated arm (seed 0, 4,000 updates, benchmarks/README.md): the
# earlier 32-64-64-64 net with 64-d features ended 1.4 points above its random-init probe,
# this one 4.3.
model = dict(
    type='ContinualSimSiam',
    model=dict(
        type='SimSiam',
        data_preprocessor=dict(type='SelfSupDataPreprocessor', mean=[72.94], std=[90.02],
                               to_rgb=False),
        backbone=dict(type='SmallConvNet', in_channels=1, channels=(16, 32, 64, 128),
                      strides=(2, 2, 2, 2)),
        neck=dict(type='NonLinearNeck', in_channels=128, hid_channels=128, out_channels=128,
                  num_layers=3, with_last_bn_affine=False, with_avg_pool=True),
        head=dict(type='LatentPredictHead', loss=dict(type='CosineSimilarityLoss'),
                  predictor=dict(type='NonLinearNeck', in_channels=128, hid_channels=32,
                                 out_channels=128, with_avg_pool=False, with_last_bn=False,
                                 with_last_bias=True))))
