# Decorrelated, 4 epochs: no buffer, the frames shuffled (i.i.d. batches), four epochs: the
# upper reference of the buffer arms, the same 4,000 updates.
_base_ = ['./simsiam_convnet-small_1xb64-4e_fmnist-pseudovideo-sequential.py']
train_dataloader = dict(sampler=dict(type='DefaultSampler', shuffle=True))
