# Row 3 ("Soft labels", val 59.825; commit 5f4b06e): KL of the replayed rows against their
# stored logits, T = 0.5, from iteration 1700, weights (CE, KL) (1, 0.5) / (1, 0.8) / (1, 1.0)
# from iterations 1700 / 2000 / 2100 (cl_strategy.yaml temperature, softlabels_patience,
# loss_weights). The reference keeps using the last replayed logits when the draw has run
# out (stale_targets=True; False is the corrected variant).
_base_ = ['./r02-multistep-lr_resnet50_1xb10-1pass_sslad3a.py']
model = dict(soft_labels=dict(temperature=0.5, patience=1700, milestones=[1700, 2000, 2100],
                              ce_weights=[1.0, 1.0, 1.0], kl_weights=[0.5, 0.8, 1.0],
                              stale_targets=True))
