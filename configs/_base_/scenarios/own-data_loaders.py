# Loader and evaluator settings of the "bring your own data" recipes (configs/own_data/);
# each recipe sets its own `scenario`.
train_dataloader = dict(
    batch_size=32, num_workers=2,
    sampler=dict(type='DefaultSampler', shuffle=True),
    collate_fn=dict(type='default_collate'))
val_dataloader = dict(
    batch_size=128, num_workers=2,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='default_collate'))
test_dataloader = val_dataloader
val_evaluator = dict(type='ClsStreamEvaluator', topk=(1, ))
test_evaluator = val_evaluator
