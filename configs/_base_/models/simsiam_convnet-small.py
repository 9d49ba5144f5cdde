# SimSiam with the ~93k-parameter SmallConvNet on 28x28 one-channel images (every block
# strided: 28 -> 14 -> 7 -> 4 -> 2, a quarter of the compute of a stride-1 first block): projector
# 64-64-64 (3 layers, last BN without affine), predictor 64-16-64, cosine loss; the
# shapes of the reference's R18 recipe (dim 512, pred_dim 128) scaled down 8x.
model = dict(
    type='ContinualSimSiam',
    model=dict(
        type='SimSiam',
        data_preprocessor=dict(type='SelfSupDataPreprocessor', mean=[72.94], std=[90.02],
                               to_rgb=False),
        backbone=dict(type='SmallConvNet', in_channels=1, channels=(32, 64, 64, 64),
                      strides=(2, 2, 2, 2)),
        neck=dict(type='NonLinearNeck', in_channels=64, hid_channels=64, out_channels=64,
                  num_layers=3, with_last_bn_affine=False, with_avg_pool=True),
        head=dict(type='LatentPredictHead', loss=dict(type='CosineSimilarityLoss'),
                  predictor=dict(type='NonLinearNeck', in_channels=64, hid_channels=16,
                                 out_channels=64, with_avg_pool=False, with_last_bn=False,
                                 with_last_bias=True))))
