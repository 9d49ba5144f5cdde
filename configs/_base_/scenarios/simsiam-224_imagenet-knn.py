# What the continuous-SSL streams share (flickr20m_stream.py, kinetics400_frames.py,
# imagenet21k_continual-splits.py): SimSiam's two views at 224 px and a kNN monitor on
# ImageNet-1k after the pass.
#
# Views: one pipeline applied twice with independent randomness (MultiView, num_views=2),
# as senthilps8/continuous_ssl_problem worker_buffered_simsiam.py lines 64-76 (and
# datasets/imagelistdataset.py lines 426-428):
#   RandomResizedCrop(224, scale 0.2-1)                  line 65 (insize: 224 in every
#                                                        configs/simsiam/data/*.yaml)
#   RandomApply(ColorJitter(0.4, 0.4, 0.4, 0.1), p=0.8)  lines 66-70, torchvision's on an
#                                                        RGB PIL image as there (mmcv's
#                                                        adjust_hue overflows on a negative
#                                                        hue with NumPy 2)
#   RandomGrayscale(p=0.2)                               line 71, torchvision's
#   GaussianBlur(sigma uniform in [0.1, 2]), p=0.5       line 72; simsiam.py lines 96-105
#                                                        (PIL radius = sigma, as here)
#   RandomHorizontalFlip()                               line 73
#   ToTensor + ImageNet mean/std                         lines 74-75 (the model's
#                                                        SelfSupDataPreprocessor, to RGB)
#
# The monitor: weighted kNN (k=20, T=0.07) of the pooled backbone features of ImageNet-1k
# val against a class-balanced bank of ImageNet-1k train; the reference evaluates with a
# linear probe instead (worker_lincls.py; clbox's probe tool), this only watches training.
# Layout (mmpretrain's ImageNet):
#   data/imagenet/train/<wnid>/<image>.JPEG, data/imagenet/val/<image>.JPEG
#   data/imagenet/meta/val.txt           "<image>.JPEG <label>" per line (50,000 lines)
#   data/imagenet/meta/train_100pc.txt   "<wnid>/<image>.JPEG <label>": the first 100 images
#       of every class of meta/train.txt, e.g. awk '++n[$2] <= 100' meta/train.txt
# Probe views: Resize(256, short side) + CenterCrop(224) (lincls, spec sec. 5).
view = [
    dict(type='RandomResizedCrop', scale=224, crop_ratio_range=(0.2, 1.0), backend='pillow'),
    dict(type='NumpyToPIL', to_rgb=True),
    dict(type='RandomApply', prob=0.8,
         transforms=[dict(type='torchvision/ColorJitter', brightness=0.4, contrast=0.4,
                          saturation=0.4, hue=0.1)]),
    dict(type='torchvision/RandomGrayscale', p=0.2),
    dict(type='PILToNumpy', to_bgr=True),
    dict(type='GaussianBlur', magnitude_range=(0.1, 2.0), magnitude_std='inf', prob=0.5),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
]
train_pipeline = [dict(type='LoadImageFromFile'),
                  dict(type='MultiView', num_views=2, transforms=[view]),
                  dict(type='PackInputs')]
test_pipeline = [dict(type='LoadImageFromFile'),
                 dict(type='ResizeEdge', scale=256, edge='short', backend='pillow'),
                 dict(type='CenterCrop', crop_size=224),
                 dict(type='PackInputs')]

imagenet_root = 'data/imagenet'
# the streams add scenario.train
scenario = dict(type='SelfSupStream',
                test=dict(type='ImageNet', data_root=imagenet_root, split='val',
                          pipeline=test_pipeline))
val_dataloader = dict(batch_size=256, num_workers=10,
                      sampler=dict(type='DefaultSampler', shuffle=False),
                      collate_fn=dict(type='default_collate'))
test_dataloader = val_dataloader
val_evaluator = dict(type='KNNStreamEvaluator', k=20, temperature=0.07,
                     bank=dict(type='ImageNet', data_root=imagenet_root, split='train',
                               ann_file='meta/train_100pc.txt', pipeline=test_pipeline))
test_evaluator = val_evaluator
