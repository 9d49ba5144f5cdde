# Experience replay: each batch is joined by as many samples from a class-balanced memory.
_base_ = ['./resnet50.py']
model = dict(type='ER', buffer=dict(type='ClassBalancedBuffer', size=2000))
