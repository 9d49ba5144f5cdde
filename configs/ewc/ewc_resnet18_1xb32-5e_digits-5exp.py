_base_ = ['../naive/naive_resnet18_1xb32-5e_digits-5exp.py']
model = dict(type='EWC', ewc_lambda=100.0, mode='separate')
