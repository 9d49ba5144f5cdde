# SGD lr 0.01, momentum 0.9, no weight decay; a fresh optimizer (momentum cleared) per
# experience, 1 epoch per experience.
optim_wrapper = dict(optimizer=dict(type='SGD', lr=0.01, momentum=0.9, weight_decay=0.0))
param_scheduler = None
train_cfg = dict(type='ExperienceBasedTrainLoop', max_epochs=1, reset_optimizer=True)
