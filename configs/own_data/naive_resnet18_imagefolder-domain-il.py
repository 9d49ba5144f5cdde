# Your own images, domain-incremental: the same classes in a new domain per experience,
# one ImageFolder tree per domain, in the order listed:
#   data/my_domains/<domain>/{train,test}/<class name>/*.jpg|png
# (every domain must hold the same class folders: CustomDataset numbers classes by their
# sorted folder names).
_base_ = ['./naive_resnet18_imagefolder-class-il.py']
data_root = 'data/my_domains'
domains = ['sunny', 'rainy', 'night']
scenario = dict(
    _delete_=True, type='DomainIncremental',
    train=[dict(type='CustomDataset', data_root=f'{data_root}/{d}', data_prefix='train',
                pipeline={{_base_.train_pipeline}}) for d in domains],
    test=[dict(type='CustomDataset', data_root=f'{data_root}/{d}', data_prefix='test',
               pipeline={{_base_.test_pipeline}}) for d in domains])
