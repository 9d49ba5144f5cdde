_base_ = ['../naive/naive_mlp_1xb64-1e_fashion-mnist-5exp.py']
# Joint training on the whole stream at once (Avalanche's JointTraining): only the last
# experience is trained, on the union of experiences 0..4 (60,000 images, 1 epoch), and
# the whole test stream is evaluated once after it.
model = dict(type='Joint')
train_cfg = dict(experiences=[4])
