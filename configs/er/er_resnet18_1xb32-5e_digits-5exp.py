_base_ = ['../naive/naive_resnet18_1xb32-5e_digits-5exp.py']
# Experience replay with 200 class-balanced slots (20 per digit), equal replay batch.
model = dict(type='ER', buffer=dict(type='ClassBalancedBuffer', size=200))
