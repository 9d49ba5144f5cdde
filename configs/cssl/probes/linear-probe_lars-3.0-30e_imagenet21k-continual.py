# The probe of the continual ImageNet-21k protocol of Purushwalkam et al., ECCV 2022
# (senthilps8/continuous_ssl_problem, configs/simsiam/lincls/imnet21k.yaml): 15,790
# classes, base lr 3.0, 30 epochs, validation on continual_splits/vallist.txt; the rest as
# the ImageNet probe. With `groups` (the classes of each of the 4 splits, one class id per
# line) tools/linear_probe.py also reports top-1 per split and, given the checkpoints at
# 25/50/75/100% of the stream (checkpoint_0000{0.2500,0.5000,0.7500,1.0000}.pth), the
# forgetting of each split (clbox.evaluation.cssl_protocol: the definition is inferred).
# Layout: data/imagenet21k/continual_splits/{trainlist,vallist}.txt ("<path> <class id>")
# and classes_split{0,1,2,3}.txt.
_base_ = ['./linear-probe_lars-3.0-10e_imagenet1k.py']
data_root = 'data/imagenet21k'
splits = data_root + '/continual_splits'
probe = dict(
    train=dict(_delete_=True, type='CustomDataset', data_root=data_root,
               ann_file='continual_splits/trainlist.txt', data_prefix='',
               pipeline={{_base_.probe_pipeline}}),
    test=dict(_delete_=True, type='CustomDataset', data_root=data_root,
              ann_file='continual_splits/vallist.txt', data_prefix='',
              pipeline={{_base_.probe_pipeline}}),
    num_classes=15790,
    epochs=30,
    groups={f'split{k}': f'{splits}/classes_split{k}.txt' for k in range(4)},
)
