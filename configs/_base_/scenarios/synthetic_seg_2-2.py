# Synthetic shapes (embedded, written once under $CLBOX_CACHE), background + 4 classes:
# step 0 learns classes 1-2, step 1 classes 3-4, overlapped (MiB protocol). 1920 training
# images (~1320 in step 0, ~1340 in step 1: ~83 iterations per epoch) so that the tiny
# model learns the shapes in 4 epochs per step; 128 test images.
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='mmseg.LoadAnnotations'),
    dict(type='mmseg.RandomFlip', prob=0.5),
    dict(type='mmseg.PackSegInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='mmseg.LoadAnnotations'),
    dict(type='mmseg.PackSegInputs'),
]
scenario = dict(
    type='SyntheticSegIncremental', task='2-2', num_classes=5, overlap=True,
    num_train=1920, num_test=128, size=32, seed=0,
    train_pipeline=train_pipeline, test_pipeline=test_pipeline)
train_dataloader = dict(
    batch_size=16, num_workers=0, sampler=dict(type='DefaultSampler', shuffle=True),
    collate_fn=dict(type='pseudo_collate'))
val_dataloader = dict(
    batch_size=32, num_workers=0, sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='pseudo_collate'))
test_dataloader = val_dataloader
val_evaluator = dict(type='SegStreamEvaluator')
test_evaluator = val_evaluator
