# Row 8 ("Cost-sensitive CE", val 63.33; commits 02e7149 / eb0e418, code 1fe2c7d):
# loss.CostSenstiveLoss around F.cross_entropy, class weights min_c n_c / n_c of each batch,
# PyTorch's weighted mean. Not in the final method: row 9 starts again from row 7.
_base_ = ['./r07-focal_resnet50d_1xb10-1pass_sslad3a.py']
model = dict(model=dict(head=dict(loss=dict(_delete_=True, type='CostSensitiveLoss',
                                            num_classes=7))))
