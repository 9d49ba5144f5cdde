_base_ = ['../naive/naive_mlp_1xb64-1e_fashion-mnist-5exp.py']
# EWC, one penalty per past experience. clbox's penalty is ewc_lambda / 2 * sum F (w - w*)^2,
# Avalanche's is ewc_lambda * sum F (w - w*)^2: ewc_lambda=200 here is Avalanche's
# EWC(ewc_lambda=100, mode='separate').
model = dict(type='EWC', ewc_lambda=200.0, mode='separate')
