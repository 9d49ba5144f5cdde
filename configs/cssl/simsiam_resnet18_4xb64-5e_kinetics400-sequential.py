# Kinetics-400, conventional, 5 epochs over the correlated stream (senthilps8/
# continuous_ssl_problem README "ResNet-18 on Kinetics-400 8 FPS (Section 5)": data=kinetics
# data.seq_sampling="random" optim.epochs=5 optim.lr=0.05 environment.ngpu=4; R18: 8.092 /
# 0.791).
# No buffer; every per-GPU batch is the 64 frames of one video, videos in random order
# (the scenario's EpochChunkSampler, block=64), 4 videos per global batch; cosine over
# every update (T_max = 5 passes).
_base_ = ['../_base_/models/simsiam_resnet18.py', '../_base_/scenarios/kinetics400_frames.py',
          '../_base_/schedules/simsiam_sgd-coslr.py']
train_cfg = dict(type='ExperienceBasedTrainLoop', max_epochs=5, eval_initial=False,
                 reset_optimizer=False)
param_scheduler = [dict(type='CosineAnnealingLR', T_max=5, end=5, by_epoch=True,
                        convert_to_iter_based=True)]
default_hooks = dict(checkpoint=dict(interval=1))
