_base_ = ['./resnet50.py']
