# Row 6 ("ResNet50-D", val 62.514; commit a6175fc): timm's ImageNet resnet50d (mmpretrain's
# ResNetV1d, depth 50), the embedding hook on its global_pool (the same pooled 2048-d
# vector), and the learning rate 0.01 -> 0.0111 (cl_strategy.yaml optimizer.lr).
# Convert timm's weights once:
#   python tools/model_converters/timm_resnet_d.py resnet50d.pth \
#       data/pretrained/resnet50d_mmpretrain.pth --prefix ''
_base_ = ['./r05-supcon_resnet50_1xb10-1pass_sslad3a.py']
pretrained = 'data/pretrained/resnet50d_mmpretrain.pth'
model = dict(model=dict(backbone=dict(
    type='ResNetV1d', init_cfg=dict(type='Pretrained', checkpoint=pretrained))))
optim_wrapper = dict(optimizer=dict(lr=0.0111))
