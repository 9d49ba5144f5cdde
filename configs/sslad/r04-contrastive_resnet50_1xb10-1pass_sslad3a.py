# Row 4 ("Contrastive", val 60.363, test 59.68; commit 2c5a9ce): pytorch-metric-learning's
# ContrastiveLoss(pos_margin=0, neg_margin=1), weight 0.3, on the pooled 2048-d embedding
# of the 16 mixed samples (modules.py MetricLearner).
_base_ = ['./r03-soft-labels_resnet50_1xb10-1pass_sslad3a.py']
model = dict(metric_losses=[
    dict(type='MetricLearningLoss', loss='ContrastiveLoss', pos_margin=0.0, neg_margin=1.0,
         loss_weight=0.3)])
