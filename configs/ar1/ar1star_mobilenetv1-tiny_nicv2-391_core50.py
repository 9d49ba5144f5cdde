# CI-sized AR1*: the reference config shrunk to the miniature CORe50 of
# tests/fixtures/core50.py (make_core50(root, frames=4, size=32)), where it learns in a
# few seconds (tests/test_algorithms/test_ar1_reference.py: all 6 batches, ~75-100%
# final top-1 against 25% for one class):
#   --cfg-options scenario.data_root=/tmp/core50-mini
# Where it departs from ar1star_mobilenetv1_nicv2-391_core50.py, and why:
#   - MobileNetV1 x0.25 from scratch (Kaiming init), 32x32 inputs, 3 batches, 16 slots.
#   - Nothing is pretrained, so nothing can be frozen from the start: the lower layers
#     train during experience 0 and are frozen from experience 1 on
#     (freeze_below_latent_from_start=False, the Caffe-era AR1* variant).
#   - BRN momentum 1.0 in both phases, where the reference uses 0.01 then 5e-5: those
#     suit ImageNet statistics that are already right; from scratch, a few dozen steps
#     leave the running statistics near their initial values and evaluation (which
#     normalises with them) sees another network (2% accuracy). With momentum 1 the
#     running statistics are those of the last batch, and a batch here is a whole
#     fixture experience (8 images, plus replay), so evaluation normalises as training.
#   - lr 0.02 in every experience (inc_lr_mult=1), 6 epochs: the reference's 0.001 then
#     5e-5 fine-tune a pretrained model; a scratch one needs larger steps.
#   - Every test image (test_every=1): the fixture has 48.
_base_ = ['./ar1star_mobilenetv1_nicv2-391_core50.py']

data_root = 'data/core50-mini'
pipeline = [dict(type='LoadImageFromFile'), dict(type='Resize', scale=(32, 32)),
            dict(type='PackInputs')]
model = dict(
    model=dict(backbone=dict(widen_factor=0.25,
                             norm_cfg=dict(momentum=1.0),
                             init_cfg=[dict(type='Kaiming', layer='Conv2d', mode='fan_in'),
                                       dict(type='Constant', val=1,
                                            layer=['_BatchNorm', 'GroupNorm'])]),
               head=dict(in_channels=256)),
    buffer=dict(size=16),
    freeze_below_latent_from_start=False,
    inc_lr_mult=1.0,
    inc_brn_cfg=dict(momentum=1.0))
scenario = dict(data_root=data_root, num_batches=3, train_pipeline=pipeline,
                test_pipeline=pipeline, test_every=1)
train_dataloader = dict(batch_size=8, num_workers=0)
val_dataloader = dict(batch_size=16, num_workers=0)
test_dataloader = val_dataloader
optim_wrapper = dict(optimizer=dict(lr=0.02))
train_cfg = dict(max_epochs=6)
default_hooks = dict(logger=dict(interval=1))
