# Learning without Forgetting: distil the previous bucket's model on the new bucket.
_base_ = ['./resnet50.py']
model = dict(type='LwF', alpha=1.0)
