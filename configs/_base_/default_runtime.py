# Runtime shared by every clbox config.
default_scope = 'clbox'
runner_type = 'ContinualRunner'

default_hooks = dict(
    runtime_info=dict(type='RuntimeInfoHook'),
    timer=dict(type='IterTimerHook'),
    sampler_seed=None,  # the train loops seed every epoch themselves
    logger=dict(type='LoggerHook', interval=50),
    param_scheduler=dict(type='ParamSchedulerHook'),
    # after every experience; set interval=N to also save every N epochs inside one
    checkpoint=dict(type='ExperienceCheckpointHook', interval=-1),
)
custom_hooks = [
    dict(type='ContinualResultsHook'),  # results.json, plots, scalars per experience
    dict(type='ProgressBarHook'),       # tqdm bars with ETA on interactive terminals
]

# Evaluation of the whole test stream after every experience (val) and by tools/test.py.
val_cfg = dict(type='StreamValLoop')
test_cfg = dict(type='StreamTestLoop')

env_cfg = dict(
    cudnn_benchmark=False,
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
    dist_cfg=dict(backend='nccl'),
)

# Add dict(type='TensorboardVisBackend') or dict(type='SafeWandbVisBackend') (offline
# unless you configure W&B) to log scalars there too.
vis_backends = [dict(type='LocalVisBackend')]
visualizer = dict(type='Visualizer', vis_backends=vis_backends)
log_processor = dict(type='ContinualLogProcessor', window_size=10, by_epoch=True)

log_level = 'INFO'
load_from = None
resume = False
randomness = dict(seed=0, deterministic=False)
