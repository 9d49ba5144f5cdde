# The iid protocol: a seeded 7:3 train:test split within each bucket.
_base_ = ['./resnet50.py']
scenario = dict(evaluation_protocol='iid', seed=0)
