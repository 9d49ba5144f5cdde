_base_ = [
    '../_base_/models/mlp_fashion-mnist.py',
    '../_base_/scenarios/mnist_class-il-5exp.py',
    '../_base_/schedules/sgd_1e-per-exp.py',
    '../_base_/default_runtime.py',
]
# Split MNIST, MLP 784-400-400-10 (PyTorch's default initialisation), batch 64, 1 epoch per
# experience, SGD lr 0.01 momentum 0.9, no weight decay, a fresh optimizer per experience
# (Avalanche keeps one: set train_cfg.reset_optimizer=False to match it).
# MNIST's pixel statistics on the 0..255 scale (33.32, 78.57).
model = dict(model=dict(data_preprocessor=dict(mean=[33.32], std=[78.57])))
optim_wrapper = dict(optimizer=dict(type='SGD', lr=0.01, momentum=0.9, weight_decay=0.0))
