# Your own images, instance-incremental (new instances of the same classes): one
# ImageFolder tree split into `num_experiences` random parts (seeded); the test set stays
# whole and is evaluated after every experience.
_base_ = ['./naive_resnet18_imagefolder-class-il.py']
scenario = dict(
    _delete_=True, type='InstanceIncremental',
    train=dict(type='CustomDataset', data_root={{_base_.data_root}}, data_prefix='train',
               pipeline={{_base_.train_pipeline}}),
    test=dict(type='CustomDataset', data_root={{_base_.data_root}}, data_prefix='test',
              pipeline={{_base_.test_pipeline}}),
    num_experiences=4, seed=0)
