# Row 9 ("CB focal", val 64.01, test 64.53: the final method, tag v4.3 = eb11e37):
# loss.ClassBalancedLoss(beta=0.81, num_classes=7) around row 7's FocalLoss(gamma 0,
# alpha 0.5): effective-number weights of each 16-sample batch (cl_strategy.yaml criterion).
# Inherits row 7, not row 8 (spec sec. 4).
_base_ = ['./r07-focal_resnet50d_1xb10-1pass_sslad3a.py']
model = dict(model=dict(head=dict(loss=dict(
    _delete_=True, type='ClassBalancedLoss', beta=0.81, num_classes=7,
    loss=dict(type='SoftmaxFocalLoss', alpha=0.5, gamma=0.0)))))
