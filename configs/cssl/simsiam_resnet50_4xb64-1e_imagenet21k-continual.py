# Continual Full ImageNet, conventional single pass (senthilps8/continuous_ssl_problem README
# "ResNet-18 on Continual Full ImageNet (Section 6)", "Single Pass (Conventional)":
# data=memmap_sequential optim.lr_schedule.type=constant optim.lr=0.01 optim.epochs=1
# model.pretrained=<simsiam_flickr200m_ckpt> logging.save_freq=0.05; results for R18 only,
# the command's arch option resnet50).
# No buffer: every incoming batch trained on once (the online loop, which saves the 5%
# checkpoints), the whole stream in file order (memmap_sequential.yaml line 10, shuffle
# False), every entry (subsample 1: HEAD's memmap_sequential.yaml line 8 defaults to 4,
# which also thins this run; the initial release streamed the whole list). Pick the order
# with --cfg-options "scenario.train.order='0312'".
_base_ = ['../_base_/models/simsiam_resnet50.py',
          '../_base_/scenarios/imagenet21k_continual-splits.py',
          '../_base_/schedules/simsiam_sgd-constlr-0.01_from-flickr.py']
train_cfg = dict(type='OnlineTrainLoop', num_updates=1, shuffle=False, eval_initial=False,
                 reset_optimizer=False)
