# AR1* with latent replay on a ResNet-18 (mmpretrain), replay after `layer3`: the same
# method on any backbone whose layers clbox can name (see SplitBackbone). Hyperparameters
# as the MobileNetV1 config (the PyTorch reference's: layers below the latent one frozen
# from the start, which needs these ImageNet weights); no reference numbers exist for
# this variant.
_base_ = ['./ar1star_mobilenetv1_nicv2-391_core50.py']

pretrained = 'checkpoints/resnet18_imagenet_mmpretrain.pth'
model = dict(
    model=dict(
        backbone=dict(_delete_=True, type='ResNet', depth=18, out_indices=(3, ),
                      norm_cfg={{_base_.brn}},
                      init_cfg=dict(type='Pretrained', checkpoint=pretrained,
                                    prefix='backbone.')),
        head=dict(in_channels=512)),
    latent_layer='layer3')
