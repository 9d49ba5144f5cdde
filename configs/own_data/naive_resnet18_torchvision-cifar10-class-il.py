# Any torchvision dataset already on disk (here CIFAR-10's python batches under
# data/cifar10/cifar-10-batches-py; download=False: nothing is fetched at run time), through
# TorchDataset: `dataset` is its dotted path and arguments (any map-style dataset of
# (image, label) pairs works the same way, e.g. 'my_package.MyDataset').
_base_ = ['./naive_resnet18_imagefolder-class-il.py']
data_root = 'data/cifar10'
scenario = dict(
    _delete_=True, type='ClassIncremental',
    train=dict(type='TorchDataset',
               dataset=dict(type='torchvision.datasets.CIFAR10', root=data_root, train=True,
                            download=False),
               pipeline=[dict(type='RandomFlip', prob=0.5, direction='horizontal'),
                         dict(type='PackInputs')]),
    test=dict(type='TorchDataset',
              dataset=dict(type='torchvision.datasets.CIFAR10', root=data_root, train=False,
                           download=False)),
    num_experiences=5)
model = dict(model=dict(data_preprocessor=dict(to_rgb=False)))   # PIL images are RGB
