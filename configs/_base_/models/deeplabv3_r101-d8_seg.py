# DeepLabV3 (ASPP) on ResNet-101, output stride 8, for continual segmentation (MiB/PLOP use
# DeepLabV3-ResNet101 with output stride 16 and in-place ABN; this is mmseg's standard
# model). The classifier is preallocated for every class of the task; the algorithm masks
# unseen ones. lr_per_step: 0.01 at step 0, 0.001 later (MiB Sec. 4.1).
norm_cfg = dict(type='SyncBN', requires_grad=True)
model = dict(
    type='FT',
    lr_per_step=[0.01, 0.001],
    model=dict(
        type='mmseg.EncoderDecoder',
        data_preprocessor=dict(
            type='mmseg.SegDataPreProcessor', mean=[123.675, 116.28, 103.53],
            std=[58.395, 57.12, 57.375], bgr_to_rgb=True, pad_val=0, seg_pad_val=255,
            size=(512, 512)),
        pretrained='open-mmlab://resnet101_v1c',
        backbone=dict(
            type='mmseg.ResNetV1c', depth=101, num_stages=4, out_indices=(0, 1, 2, 3),
            dilations=(1, 1, 2, 4), strides=(1, 2, 1, 1), norm_cfg=norm_cfg,
            norm_eval=False, style='pytorch', contract_dilation=True),
        decode_head=dict(
            type='mmseg.ASPPHead', in_channels=2048, in_index=3, channels=512,
            dilations=(1, 12, 24, 36), dropout_ratio=0.1, num_classes=21, norm_cfg=norm_cfg,
            align_corners=False,
            loss_decode=dict(type='mmseg.CrossEntropyLoss', use_sigmoid=False,
                             loss_weight=1.0)),
        train_cfg=dict(),
        test_cfg=dict(mode='whole')))
