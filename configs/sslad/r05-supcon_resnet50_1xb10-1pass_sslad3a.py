# Row 5 ("SupCon", val 61.49; commit f7532a0): adds SupConLoss(temperature=0.1), weight 0.1.
_base_ = ['./r04-contrastive_resnet50_1xb10-1pass_sslad3a.py']
model = dict(metric_losses=[
    dict(type='MetricLearningLoss', loss='ContrastiveLoss', pos_margin=0.0, neg_margin=1.0,
         loss_weight=0.3),
    dict(type='MetricLearningLoss', loss='SupConLoss', temperature=0.1, loss_weight=0.1)])
