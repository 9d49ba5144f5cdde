# SimSiam with a ResNet-50 at 224 px: as simsiam_resnet18.py with the shapes of
# configs/simsiam/model/backbone/resnet50.yaml (senthilps8/continuous_ssl_problem) lines 1-3:
# 2048 backbone channels, projector 2048-2048-2048 (simsiam_dim: 2048), predictor
# 2048-512-2048 (pred_dim: 512). The reference's model/default.yaml and model/bstream.yaml
# default to this backbone (line 2); the README runs pass model/backbone=resnet18 or resnet50.
model = dict(
    type='ContinualSimSiam',
    model=dict(
        type='SimSiam',
        data_preprocessor=dict(type='SelfSupDataPreprocessor',
                               mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375],
                               to_rgb=True),
        backbone=dict(type='ResNet', depth=50, zero_init_residual=True,
                      norm_cfg=dict(type='SyncBN')),
        neck=dict(type='NonLinearNeck', in_channels=2048, hid_channels=2048,
                  out_channels=2048, num_layers=3, with_last_bn_affine=False,
                  with_avg_pool=True, norm_cfg=dict(type='SyncBN')),
        head=dict(type='LatentPredictHead', loss=dict(type='CosineSimilarityLoss'),
                  predictor=dict(type='NonLinearNeck', in_channels=2048, hid_channels=512,
                                 out_channels=2048, with_avg_pool=False, with_last_bn=False,
                                 with_last_bias=True, norm_cfg=dict(type='SyncBN')))))
