# SGD (momentum 0.9, weight decay 1e-4), poly decay (power 0.9) within each step, a fresh
# optimizer per step, 60 epochs per step (MiB / PLOP on ADE20K). The step's
# starting lr comes from model.lr_per_step ([0.01, 0.001]).
optim_wrapper = dict(optimizer=dict(type='SGD', lr=0.01, momentum=0.9, weight_decay=1e-4))
param_scheduler = [dict(type='PolyLR', power=0.9, eta_min=1e-6, by_epoch=True, begin=0,
                        end=60)]
train_cfg = dict(type='ExperienceBasedTrainLoop', max_epochs=60, reset_optimizer=True)
