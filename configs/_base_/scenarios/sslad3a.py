# SSLAD 2021 Track 3A: 6 tasks of SODA10M's val split, one pass, incoming batches of 10, no
# shuffle; after each task the pooled validation sets V1 + V2 (SSLAD3A's docstring). The
# reader cuts each object from its 1920 x 1080 frame; write the crops once with
#   python tools/dataset_converters/soda10m_crops.py data/SSLAD-2D/labeled data/soda10m_crops
# and set crop_cache to that folder (outside the data root, never written by training).
data_root = 'data/SSLAD-2D/labeled'   # --root R of the starter kit + SSLAD-2D/labeled
crop_cache = None
train_pipeline = [dict(type='PackInputs')]
test_pipeline = [dict(type='PackInputs')]

scenario = dict(type='SSLAD3A', data_root=data_root, cache_dir=crop_cache,
                pipeline=train_pipeline, test_pipeline=test_pipeline, batch_size=10)

# the challenge's statistics of [0, 1] RGB values (starter kit _default_transform), x 255
data_preprocessor = dict(type='ClsDataPreprocessor',
                         mean=[0.3252 * 255, 0.3283 * 255, 0.3407 * 255],
                         std=[0.0265 * 255, 0.0241 * 255, 0.0252 * 255], to_rgb=False)

train_dataloader = dict(
    batch_size=10, num_workers=2,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='default_collate'))
val_dataloader = dict(
    batch_size=256, num_workers=2,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='default_collate'))
test_dataloader = val_dataloader
# mean class accuracy over the classes present per evaluation point; AMCA in results.json
val_evaluator = dict(type='ClsStreamEvaluator', topk=(1, ))
test_evaluator = val_evaluator
