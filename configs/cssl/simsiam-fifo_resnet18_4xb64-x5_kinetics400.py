# Kinetics-400, single pass through a 64K FIFO buffer, 5 updates per incoming batch
# (senthilps8/continuous_ssl_problem README "ResNet-18 on Kinetics-400": data.seq_sampling=
# "random" model=bstream model.buff_siz=65536 model.num_updates=5 optim.epochs=1; R18: 9.840 /
# 0.770).
# - each incoming per-GPU batch is one whole video (block=64: the sampler's n_seq_samples
#   grouping, datasets/mysampler.py lines 125-148), videos in random order;
# - 65,536 slots in all, 16,384 per GPU (worker_buffered_simsiam.py line 217): a GPU's
#   buffer holds its last 256 videos;
# - no update until full, then 5 batches of 64 drawn uniformly per incoming video, the
#   skipped ones at the end (BufferBatchSampler, lines 370-412); cosine over all (T_max = 5).
_base_ = ['../_base_/models/simsiam_resnet18.py', '../_base_/scenarios/kinetics400_frames.py',
          '../_base_/schedules/simsiam_sgd-coslr.py']
model = dict(buffer=dict(type='FIFOBuffer', size=65536))
train_cfg = dict(type='OnlineTrainLoop', num_updates=5, shuffle=True, block=64,
                 eval_initial=False, reset_optimizer=False)
param_scheduler = [dict(type='CosineAnnealingLR', T_max=5, end=5, by_epoch=True,
                        convert_to_iter_based=True)]
