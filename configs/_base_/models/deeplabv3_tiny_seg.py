# A tiny DeepLabV3 (ResNet-18 layout, 8 base channels, ASPP with 16 channels) for the
# synthetic scenario and tests: a CPU step takes ~0.1 s on a batch of 16 32x32 images.
# Output stride 4 (no stride in the stages after the stem): at stride 8 the 4x4 logit map
# was too coarse and the model predicted only background on the synthetic shapes.
# The classifier is preallocated for every class of the task; the algorithm masks unseen
# ones. lr_per_step: the paper's 10x drop after step 0 (MiB Sec. 4.1: 0.01 then 0.001),
# scaled up 10x (0.1 then 0.01) for this small, short, from-scratch schedule.
norm_cfg = dict(type='BN', requires_grad=True)
model = dict(
    type='FT',
    lr_per_step=[0.1, 0.01],
    model=dict(
        type='mmseg.EncoderDecoder',
        data_preprocessor=dict(
            type='mmseg.SegDataPreProcessor', mean=[127.5, 127.5, 127.5],
            std=[64.0, 64.0, 64.0], bgr_to_rgb=True, pad_val=0, seg_pad_val=255,
            size=(32, 32)),
        backbone=dict(
            type='mmseg.ResNetV1c', depth=18, stem_channels=8, base_channels=8,
            num_stages=4, out_indices=(0, 1, 2, 3), dilations=(1, 1, 2, 4),
            strides=(1, 1, 1, 1), norm_cfg=norm_cfg, norm_eval=False, style='pytorch',
            contract_dilation=True),
        decode_head=dict(
            type='mmseg.ASPPHead', in_channels=64, in_index=3, channels=16,
            dilations=(1, 2, 3), dropout_ratio=0.0, num_classes=5, norm_cfg=norm_cfg,
            align_corners=False,
            loss_decode=dict(type='mmseg.CrossEntropyLoss', use_sigmoid=False,
                             loss_weight=1.0)),
        train_cfg=dict(),
        test_cfg=dict(mode='whole')))
