# An Avalanche benchmark generator called from the config: nc_benchmark over torchvision
# datasets on disk (any generator of avalanche.benchmarks, or a dotted path; arguments that
# are dicts with a dotted `type` are built first), no Python of your own. Here an
# ImageFolder tree as in naive_resnet18_imagefolder-class-il.py, 5 experiences, classes
# shuffled with seed 0 (Avalanche's default is a random order).
_base_ = ['./naive_resnet18_imagefolder-class-il.py']
data_root = 'data/my_images'
scenario = dict(
    _delete_=True, type='AvalancheScenario',
    benchmark=dict(
        type='nc_benchmark',
        train_dataset=dict(type='torchvision.datasets.ImageFolder',
                           root=f'{data_root}/train'),
        test_dataset=dict(type='torchvision.datasets.ImageFolder',
                          root=f'{data_root}/test'),
        n_experiences=5, task_labels=False, seed=0),
    pipeline=[dict(type='Resize', scale={{_base_.image_size}}), dict(type='PackInputs')])
model = dict(model=dict(data_preprocessor=dict(to_rgb=False)))   # PIL images are RGB
