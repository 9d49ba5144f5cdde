# CI-sized AR1*: MobileNetV1 x0.25 from scratch, 3 NICv2 batches, 1 epoch, a 16-slot
# memory, 32x32 inputs. Point data_root at a (generated) miniature CORe50, e.g. the one of
# tests/fixtures/core50.py:  --cfg-options scenario.data_root=/tmp/core50-mini
_base_ = ['./ar1star_mobilenetv1_nicv2-391_core50.py']

data_root = 'data/core50-mini'
pipeline = [dict(type='LoadImageFromFile'), dict(type='Resize', scale=(32, 32)),
            dict(type='PackInputs')]
model = dict(
    model=dict(backbone=dict(widen_factor=0.25, init_cfg=None),
               head=dict(in_channels=256)),
    buffer=dict(size=16))
scenario = dict(data_root=data_root, num_batches=3, train_pipeline=pipeline,
                test_pipeline=pipeline)
train_dataloader = dict(batch_size=4, num_workers=0)
val_dataloader = dict(batch_size=16, num_workers=0)
test_dataloader = val_dataloader
train_cfg = dict(max_epochs=1)
default_hooks = dict(logger=dict(interval=1))
