_base_ = ['../naive/naive_mlp_1xb64-1e_fashion-mnist-5exp.py']
# EWC, one penalty per past experience, with Avalanche's lambda convention (penalty
# ewc_lambda * sum F (w - w*)^2, Avalanche's EWCPlugin; clbox's default 'paper' convention
# is ewc_lambda / 2 * ...): Avalanche's EWC(ewc_lambda=100, mode='separate').
model = dict(type='EWC', ewc_lambda=100.0, mode='separate', lambda_convention='avalanche')
