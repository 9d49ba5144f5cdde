_base_ = [
    '../_base_/models/resnet18-cifar_digits.py',
    '../_base_/scenarios/digits_class-il-5exp.py',
    '../_base_/schedules/sgd_5e-per-exp.py',
    '../_base_/default_runtime.py',
]
