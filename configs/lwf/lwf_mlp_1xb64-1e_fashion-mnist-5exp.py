_base_ = ['../naive/naive_mlp_1xb64-1e_fashion-mnist-5exp.py']
# LwF with T=2 and alpha=1 on the classes seen so far (Avalanche's LwF(alpha=1,
# temperature=2): KL divergence averaged over the batch, no T^2 factor).
model = dict(type='LwF', alpha=1.0, distill=dict(type='KDLoss', temperature=2.0))
