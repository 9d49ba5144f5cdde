_base_ = ['../naive/naive_mlp_1xb64-1e_fashion-mnist-5exp.py']
# Joint training on the whole stream at once (Avalanche's JointTraining): mode='all' trains
# once, on the union of experiences 0..4 (60,000 images, 1 epoch), and evaluates the whole
# test stream once after it (mode='cumulative', the default, is Avalanche's Cumulative).
model = dict(type='Joint', mode='all')
