# SimSiam with a ResNet-18 at 224 px, the reference's recipe (senthilps8/continuous_ssl_problem;
# shapes from configs/simsiam/model/backbone/resnet18.yaml lines 1-3):
# - backbone: torchvision resnet18(zero_init_residual=True) (simsiam.py line 24), here
#   mmpretrain's ResNet (same Kaiming init, stride on the 3x3 conv), 512 channels out;
# - projector 512-512-512 (simsiam.py lines 27-38; simsiam_dim: 512): Linear(no bias) BN
#   ReLU, Linear(no bias) BN ReLU, Linear, BN without affine (the last Linear's bias is
#   frozen there, line 37, and absent here: the BN after it cancels it anyway);
# - predictor 512-128-512 (simsiam.py lines 41-45; pred_dim: 128): Linear(no bias) BN ReLU,
#   Linear with bias;
# - loss -1/2 [cos(p1, sg z2) + cos(p2, sg z1)] (worker_buffered_simsiam.py lines 341-344);
# - SyncBN everywhere (model/default.yaml and model/bstream.yaml line 6, `sync_bn: True`;
#   convert_sync_batchnorm, worker_buffered_simsiam.py lines 83-84); the runner makes it
#   BN in one process and DistBatchNorm under CPU DDP;
# - ImageNet mean/std on RGB (worker_buffered_simsiam.py lines 62-63).
model = dict(
    type='ContinualSimSiam',
    model=dict(
        type='SimSiam',
        data_preprocessor=dict(type='SelfSupDataPreprocessor',
                               mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375],
                               to_rgb=True),
        backbone=dict(type='ResNet', depth=18, zero_init_residual=True,
                      norm_cfg=dict(type='SyncBN')),
        neck=dict(type='NonLinearNeck', in_channels=512, hid_channels=512, out_channels=512,
                  num_layers=3, with_last_bn_affine=False, with_avg_pool=True,
                  norm_cfg=dict(type='SyncBN')),
        head=dict(type='LatentPredictHead', loss=dict(type='CosineSimilarityLoss'),
                  predictor=dict(type='NonLinearNeck', in_channels=512, hid_channels=128,
                                 out_channels=512, with_avg_pool=False, with_last_bn=False,
                                 with_last_bias=True, norm_cfg=dict(type='SyncBN')))))
