# Your own images, class-incremental: an ImageFolder tree
#   data/my_images/train/<class name>/*.jpg|png   data/my_images/test/<class name>/...
# (mmpretrain's CustomDataset reads it: classes are the sorted folder names). The classes
# are dealt to `num_experiences` experiences in sorted order (class_order=[...] to fix
# another, shuffle=True for a seeded random one, as Avalanche does by default).
_base_ = [
    '../_base_/models/resnet18-cifar_own-data.py',
    '../_base_/scenarios/own-data_loaders.py',
    '../_base_/schedules/sgd_1e-per-exp.py',
    '../_base_/default_runtime.py',
]
data_root = 'data/my_images'
num_classes = 10          # classes in your tree: also the head's output size
image_size = 32
train_pipeline = [dict(type='LoadImageFromFile'), dict(type='Resize', scale=image_size),
                  dict(type='RandomFlip', prob=0.5, direction='horizontal'),
                  dict(type='PackInputs')]
test_pipeline = [dict(type='LoadImageFromFile'), dict(type='Resize', scale=image_size),
                 dict(type='PackInputs')]
scenario = dict(
    type='ClassIncremental',
    train=dict(type='CustomDataset', data_root=data_root, data_prefix='train',
               pipeline=train_pipeline),
    test=dict(type='CustomDataset', data_root=data_root, data_prefix='test',
              pipeline=test_pipeline),
    num_experiences=5)
model = dict(model=dict(data_preprocessor=dict(num_classes=num_classes),
                        head=dict(num_classes=num_classes)))
