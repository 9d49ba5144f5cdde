# The iNaturalist linear probe of Purushwalkam et al., ECCV 2022 (senthilps8/
# continuous_ssl_problem, configs/simsiam/lincls/inat.yaml): 8,142 classes, base lr 12.0,
# 20 epochs; the rest as the ImageNet probe (linear-probe_lars-3.0-10e_imagenet1k.py).
# Layout: data/inat/{train,val}.txt ("<path relative to data/inat> <class id>" lines).
_base_ = ['./linear-probe_lars-3.0-10e_imagenet1k.py']
data_root = 'data/inat'
probe = dict(
    train=dict(_delete_=True, type='CustomDataset', data_root=data_root,
               ann_file='train.txt', data_prefix='', pipeline={{_base_.probe_pipeline}}),
    test=dict(_delete_=True, type='CustomDataset', data_root=data_root,
              ann_file='val.txt', data_prefix='', pipeline={{_base_.probe_pipeline}}),
    num_classes=8142,
    epochs=20,
    optimizer=dict(lr=12.0),
)
