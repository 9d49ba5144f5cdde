_base_ = ['../naive/naive_mlp_1xb64-1e_fashion-mnist-5exp.py']
# ER with a 200-sample memory, as Avalanche 0.6's ReplayPlugin(mem_size=200) by default:
# the memory split equally over the experiences seen (a random subset of each, filled
# after the experience), and 64 replayed samples with every incoming batch of 64.
model = dict(type='ER', buffer=dict(type='ExperienceBalancedBuffer', size=200),
             replay_batch_size=64)
