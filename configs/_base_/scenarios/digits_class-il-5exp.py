# scikit-learn digits (embedded, no download), 5 experiences of 2 classes each.
train_pipeline = [dict(type='PackInputs')]
test_pipeline = [dict(type='PackInputs')]

scenario = dict(
    type='ClassIncremental',
    train=dict(type='Digits', split='train', pipeline=train_pipeline),
    test=dict(type='Digits', split='test', pipeline=test_pipeline),
    num_experiences=5,
)

# The loops insert each experience's dataset; these are the loader settings.
train_dataloader = dict(
    batch_size=32, num_workers=0,
    sampler=dict(type='DefaultSampler', shuffle=True),
    collate_fn=dict(type='default_collate'))
val_dataloader = dict(
    batch_size=256, num_workers=0,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='default_collate'))
test_dataloader = val_dataloader
val_evaluator = dict(type='ClsStreamEvaluator', topk=(1, 5))
test_evaluator = val_evaluator
