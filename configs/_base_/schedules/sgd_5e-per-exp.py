# SGD, a fresh optimizer per experience, 5 epochs per experience.
optim_wrapper = dict(optimizer=dict(type='SGD', lr=0.01, momentum=0.9, weight_decay=5e-4))
param_scheduler = None
train_cfg = dict(type='ExperienceBasedTrainLoop', max_epochs=5, reset_optimizer=True)
