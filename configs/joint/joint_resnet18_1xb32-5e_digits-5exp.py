_base_ = ['../naive/naive_resnet18_1xb32-5e_digits-5exp.py']
# Upper bound: at experience i, train on experiences 0..i.
model = dict(type='Joint')
