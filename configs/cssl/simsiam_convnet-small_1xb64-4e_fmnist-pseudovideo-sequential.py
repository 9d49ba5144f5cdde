# Sequential, 4 epochs: no buffer, the stream in file order (4 sources per batch) four
# times: the same 4,000 updates as the buffer arms.
_base_ = ['./simsiam-minred_convnet-small_1xb64-x4_fmnist-pseudovideo.py']
model = dict(buffer=None)
train_dataloader = dict(sampler=dict(type='DefaultSampler', shuffle=False))
train_cfg = dict(_delete_=True, type='ExperienceBasedTrainLoop', max_epochs=4,
                 eval_initial=False, reset_optimizer=False)
