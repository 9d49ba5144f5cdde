# Row 11 ("+ soft labels in head FT", val 66.116, test 62.97; tag v4.4 = 6cfaca3,
# configs/cl_strategy.yaml finetune_head): the head steps get MultiStepLR [1000, 2000]
# gamma 0.1 (counted in head steps; 566057a, 65.414) and SoftLabelsLearningTrainer: KL to
# the stored logits, T 0.5, weight 1.0 from update 1700 (patience counted over all updates).
_base_ = ['./r10-head-ft_resnet50d_1xb10-1pass_sslad3a.py']
model = dict(head_finetune=dict(
    milestones=[1000, 2000], gamma=0.1,
    soft_labels=dict(temperature=0.5, patience=1700, kl_weight=1.0)))
