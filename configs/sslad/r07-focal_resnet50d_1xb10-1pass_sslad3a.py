# Row 7 ("Focal", val 62.71; commits 1bb1dd7 / a94073c): loss.FocalLoss(gamma=0, alpha=0.5,
# reduction mean) in its softmax form; with gamma 0 it is 0.5 x CE (spec sec. 5 item 2).
_base_ = ['./r06-resnet50-d_resnet50d_1xb10-1pass_sslad3a.py']
model = dict(model=dict(head=dict(loss=dict(
    _delete_=True, type='SoftmaxFocalLoss', alpha=0.5, gamma=0.0))))
