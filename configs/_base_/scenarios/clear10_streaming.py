# CLEAR-10, streaming protocol: train on bucket i, the test stream holds every bucket
# (next-domain accuracy R[i][i+1] is the headline metric). Point dataset_root at the
# extracted public release (train/ and test/ folders); it is only read.
data_root = 'data/clear10'
image_size = 224

# torchvision's Resize(224) (short side), RandomCrop(224), RandomHorizontalFlip; the test
# pipeline uses Resize(224) + CenterCrop(224). Normalize is in model.data_preprocessor.
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='ResizeEdge', scale=image_size, edge='short'),
    dict(type='RandomCrop', crop_size=image_size),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='PackInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='ResizeEdge', scale=image_size, edge='short'),
    dict(type='CenterCrop', crop_size=image_size),
    dict(type='PackInputs'),
]

scenario = dict(
    type='CLEAR',
    dataset_root=data_root,
    data_name='clear10',
    evaluation_protocol='streaming',   # or 'iid' (seeded 7:3 split within each bucket)
    seed=0,
    train_pipeline=train_pipeline,
    test_pipeline=test_pipeline,
)

# The loops insert each experience's dataset; these are the loader settings.
train_dataloader = dict(
    batch_size=64, num_workers=4, persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    collate_fn=dict(type='default_collate'))
val_dataloader = dict(
    batch_size=128, num_workers=4,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='default_collate'))
test_dataloader = val_dataloader
val_evaluator = dict(type='ClsStreamEvaluator', topk=(1, 5))
test_evaluator = val_evaluator
