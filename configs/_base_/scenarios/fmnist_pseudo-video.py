# The small-scale continuous-SSL stream (issue 13 item 6): 4,000 Fashion-MNIST training
# images (seeded choice), each a 16-frame pseudo-video (a smooth random walk of shift <= 3
# px, zoom <= 10%, rotation <= 10 degrees): 64,000 frames in file order, so every incoming
# batch of 64 holds 4 sources. SimSiam views: the spec's (senthilps8/continuous_ssl_problem
# worker_buffered_simsiam.py lines 64-76) where they apply to a one-channel 28x28 image:
# RandomResizedCrop(28, scale 0.2-1), RandomApply(ColorJitter(brightness 0.4, contrast 0.4),
# p=0.8) (torchvision's on a PIL "L" image; saturation, hue and grayscale do nothing to it),
# horizontal flip; no blur (sigma 0.1-2 px would erase a 28 px image; 0.1-1 px changed the
# probe by +0.2, within noise). Without the jitter the decorrelated arm gained 1.0 points over
# its random-init probe after 1,000 updates and 0.8 after 4,000 (the cosine loss reached
# -0.91: crops alone are too easy); with it, 2.8 and 4.3 (seed 0).
# Probe: kNN on 10,000 training images (bank) against the 10,000 test images.
data_root = '/usr/share/datasets/fashion-mnist'
view = [
    dict(type='RandomResizedCrop', scale=28, crop_ratio_range=(0.2, 1.0), backend='cv2'),
    dict(type='NumpyToPIL', to_rgb=False),
    dict(type='RandomApply', prob=0.8,
         transforms=[dict(type='torchvision/ColorJitter', brightness=0.4, contrast=0.4)]),
    dict(type='PILToNumpy', to_bgr=False),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
]
train_pipeline = [dict(type='MultiView', num_views=2, transforms=[view]),
                  dict(type='PackInputs')]
test_pipeline = [dict(type='PackInputs')]
stream = dict(type='PseudoVideoStream', frames=16, num_sources=4000, seed=0,
              source=dict(type='FashionMNIST', data_root=data_root, split='train'),
              pipeline=train_pipeline)
scenario = dict(
    type='DomainIncremental', train=[stream],
    test=[dict(type='FashionMNIST', data_root=data_root, split='test',
               pipeline=test_pipeline)])
train_dataloader = dict(batch_size=64, num_workers=0, collate_fn=dict(type='default_collate'))
val_dataloader = dict(batch_size=512, num_workers=0,
                      sampler=dict(type='DefaultSampler', shuffle=False),
                      collate_fn=dict(type='default_collate'))
test_dataloader = val_dataloader
val_evaluator = dict(type='KNNStreamEvaluator', k=20, bank_size=10000,
                     bank=dict(type='FashionMNIST', data_root=data_root, split='train',
                               pipeline=test_pipeline))
test_evaluator = val_evaluator
