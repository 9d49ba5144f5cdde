# The CLEAR baselines' schedule, restarted for every bucket: SGD (momentum 0.9, weight
# decay 1e-5), lr 0.01 for a batch of 64 (scaled linearly with --auto-scale-lr or by
# hand: lr = 0.01 x batch / 64), divided by 10 every 30 epochs, 70 epochs per bucket.
optim_wrapper = dict(
    optimizer=dict(type='SGD', lr=0.01, momentum=0.9, weight_decay=1e-5))
param_scheduler = [dict(type='StepLR', step_size=30, gamma=0.1, by_epoch=True)]
# reset_optimizer: a fresh optimizer and fresh schedulers at the start of each bucket, so
# StepLR counts epochs within the bucket.
train_cfg = dict(type='ExperienceBasedTrainLoop', max_epochs=70, reset_optimizer=True)
auto_scale_lr = dict(base_batch_size=64, enable=False)
