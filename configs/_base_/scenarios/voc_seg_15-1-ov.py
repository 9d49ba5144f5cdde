# Pascal VOC 2012 augmented (10,582 train_aug / 1,449 val), task 15-1 overlapped
# (MiB/PLOP protocol). 512x512 crops after a 0.5-2x random rescale and flips (MiB Sec. 4.1).
data_root = 'data/VOCdevkit/VOC2012'
crop_size = (512, 512)
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='mmseg.LoadAnnotations'),
    dict(type='mmseg.RandomResize', scale=(512, 512), ratio_range=(0.5, 2.0), keep_ratio=True),
    dict(type='mmseg.RandomCrop', crop_size=crop_size),
    dict(type='mmseg.RandomFlip', prob=0.5),
    dict(type='mmseg.PackSegInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='mmseg.Resize', scale=(512, 512), keep_ratio=True),
    dict(type='mmseg.LoadAnnotations'),
    dict(type='mmseg.PackSegInputs'),
]
scenario = dict(
    type='VOCSegIncremental', data_root=data_root, task='15-1', overlap=True,
    train_pipeline=train_pipeline, test_pipeline=test_pipeline,
    label_cache='work_dirs/label_cache/voc_trainaug_val.json')
train_dataloader = dict(
    batch_size=24, num_workers=4, sampler=dict(type='DefaultSampler', shuffle=True),
    collate_fn=dict(type='pseudo_collate'))
val_dataloader = dict(
    batch_size=1, num_workers=4, sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='pseudo_collate'))
test_dataloader = val_dataloader
val_evaluator = dict(type='SegStreamEvaluator')
test_evaluator = val_evaluator
