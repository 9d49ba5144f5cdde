_base_ = ['./ewc_resnet18_1xb32-5e_digits-5exp.py']
# Online EWC (Schwarz et al., 2018): one decayed Fisher, one anchor.
model = dict(mode='online', decay_factor=0.9)
