# Runtime of the CLEAR configs: clbox's default runtime plus CLEAR's metrics, resource
# use per bucket, and scalars in a CSV file besides the local JSON log.
_base_ = ['./default_runtime.py']

default_hooks = dict(
    # text log every 20 iterations
    logger=dict(type='LoggerHook', interval=20),
    # experience_{i}.pth after every bucket, plus experience_{i}_epoch_{e}.pth every 10
    # epochs inside one (set interval=-1 to save only at bucket ends)
    checkpoint=dict(type='ExperienceCheckpointHook', interval=10),
)
custom_hooks = [
    dict(type='ContinualResultsHook'),   # results.json, accuracy-matrix plots
    dict(type='ProgressBarHook'),        # tqdm bars with ETA on a terminal
    dict(type='CLEARMetricsHook'),       # in/next-domain, BwT, FwT; confusion images
    dict(type='ResourceMonitorHook'),    # time, CPU, RAM, disk per bucket
]

# Loggers: the local JSON log and a CSV file of every scalar. Add
#   dict(type='TensorboardVisBackend')
#   dict(type='SafeWandbVisBackend', init_kwargs=dict(project='clbox-clear'))  # offline
# to this list (or see configs/clear/README.md for the command-line form).
vis_backends = [dict(type='LocalVisBackend'), dict(type='CSVVisBackend')]
visualizer = dict(type='Visualizer', vis_backends=vis_backends)
