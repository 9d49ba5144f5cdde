_base_ = ['../naive/naive_resnet18_1xb32-5e_digits-5exp.py']
# LwF with the paper's T=2 and lambda_o=1.
model = dict(type='LwF', alpha=1.0, distill=dict(type='KDLoss', temperature=2.0))
