# The continual-ImageNet optimisation (senthilps8/continuous_ssl_problem README, "ResNet-18
# on Continual Full ImageNet" command): constant lr 0.01 (optim.lr_schedule.type=constant
# optim.lr=0.01; utils.py lines 68-69), one pass (optim.epochs=1), SGD momentum 0.9 and
# weight decay 1e-4 with the predictor at the base lr as in simsiam_sgd-coslr.py
# (configs/simsiam/optim/default.yaml lines 6-8), SyncBN (model.sync_bn=True), starting from
# SimSiam trained on Flickr-200M (model.pretrained=<simsiam_flickr200m_ckpt>: the whole
# state dict, projector and predictor included, worker_buffered_simsiam.py lines 119-125),
# and a checkpoint every 5% of the stream (logging.save_freq=0.05; utils.py lines 242-255
# name them checkpoint_{epoch + fraction:010.4f}.pth).
_base_ = ['../default_runtime.py']
lr = 0.01
optim_wrapper = dict(optimizer=dict(type='SGD', lr=lr, momentum=0.9, weight_decay=1e-4),
                     paramwise_cfg=dict(custom_keys={'predictor': dict(fix_lr=True)}))
custom_hooks = [dict(type='ContinualResultsHook'), dict(type='ProgressBarHook'),
                dict(type='SimSiamHook', priority='HIGH', fix_pred_lr=True, lr=lr,
                     adjust_by_epoch=False)]
default_hooks = dict(checkpoint=dict(type='ExperienceCheckpointHook', stream_fraction=0.05))
# PLACEHOLDER: a clbox checkpoint of SimSiam trained on Flickr with the row's backbone (the
# reference starts from Flickr-200M: e.g. a Flickr-20M config of configs/cssl/ pointed at
# lists/flickr-200M.memmap with num_files=200_000_000; the reference's released weights need
# their keys renamed, module.encoder.* -> model.backbone.* / model.neck.* and
# module.predictor.* -> model.head.predictor.*). Set it with --cfg-options load_from=<path>.
load_from = 'checkpoints/simsiam_flickr200m_pretrained.pth'
