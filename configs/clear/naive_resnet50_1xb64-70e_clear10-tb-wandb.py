# configs/clear/resnet50.py logging everywhere: JSON, CSV, TensorBoard and W&B (offline
# unless you log in or set WANDB_MODE; see clbox.visualization.SafeWandbVisBackend).
_base_ = ['./resnet50.py']
vis_backends = [
    dict(type='LocalVisBackend'),
    dict(type='CSVVisBackend'),
    dict(type='TensorboardVisBackend'),
    dict(type='SafeWandbVisBackend', init_kwargs=dict(project='clbox-clear')),
]
visualizer = dict(type='Visualizer', vis_backends=vis_backends)
