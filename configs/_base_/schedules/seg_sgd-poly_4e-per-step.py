# The synthetic schedule: 4 epochs per step, same optimizer as the paper schedule.
optim_wrapper = dict(optimizer=dict(type='SGD', lr=0.01, momentum=0.9, weight_decay=1e-4))
param_scheduler = [dict(type='PolyLR', power=0.9, eta_min=1e-6, by_epoch=True, begin=0,
                        end=4)]
train_cfg = dict(type='ExperienceBasedTrainLoop', max_epochs=4, reset_optimizer=True)
