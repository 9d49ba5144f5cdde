# CLEAR-100: 100 classes, same protocol and schedule.
_base_ = ['./resnet50.py']
data_root = 'data/clear100'
model = dict(model=dict(data_preprocessor=dict(num_classes=100),
                        head=dict(num_classes=100)))
scenario = dict(dataset_root=data_root, data_name='clear100')
