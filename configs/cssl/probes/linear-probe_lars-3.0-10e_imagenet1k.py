# The ImageNet-1k linear probe of Purushwalkam et al., ECCV 2022 (senthilps8/
# continuous_ssl_problem, configs/simsiam/lincls/imagenet.yaml via worker_lincls.py): frozen
# backbone in eval mode, average-pooled L2-normalised features, a linear layer N(0, 0.01)
# trained with SGD momentum 0.9, weight decay 0, wrapped in LARC (trust 0.001, no clip;
# here mmpretrain's LARS, eta 0.001), batch 1024, base lr 3.0 with cosine per epoch, 10
# epochs, top-1 after the last epoch. Features are cached once from Resize(256) +
# CenterCrop(224) images (the reference re-augments the training images every epoch;
# clbox.evaluation.linear_probe explains the difference).
# Use: python tools/linear_probe.py TRAIN_CONFIG CHECKPOINT --probe THIS_FILE
# Layout (mmpretrain's ImageNet): data/imagenet/{train,val}/<wnid>/*.JPEG and
# data/imagenet/meta/{train,val}.txt ("<path> <class id>" lines).
data_root = 'data/imagenet'
probe_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='ResizeEdge', scale=256, edge='short'),
    dict(type='CenterCrop', crop_size=224),
    dict(type='PackInputs'),
]
probe = dict(
    train=dict(type='ImageNet', data_root=data_root, split='train', pipeline=probe_pipeline),
    test=dict(type='ImageNet', data_root=data_root, split='val', pipeline=probe_pipeline),
    num_classes=1000,
    epochs=10,
    batch_size=1024,
    optimizer=dict(type='LARS', lr=3.0, momentum=0.9, weight_decay=0.0, eta=0.001),
    feature_batch_size=256,
    seed=0,
)
