# Continual Full ImageNet, a 64K FIFO buffer, 4 updates per incoming batch on every 4th
# image (senthilps8/continuous_ssl_problem README "Single Pass (Buffer - 4 Updates with 1/4
# data)": data.subsample=4 model=bstream model.num_updates=4 model.buff_siz=65536, plus the
# section's common flags: constant lr 0.01, 1 epoch, Flickr-200M init, save_freq 0.05; R18:
# accuracy 11.16-11.44-11.61-11.70, forgetting D0 4.80-4.18-5.51, D1 5.48-6.27, D2 4.10).
# Same number of updates as the conventional run: 1/4 of the stream x 4. The stream stays
# in file order (memmap_sequential.yaml line 10); 16,384 slots per GPU.
_base_ = ['../_base_/models/simsiam_resnet18.py',
          '../_base_/scenarios/imagenet21k_continual-splits.py',
          '../_base_/schedules/simsiam_sgd-constlr-0.01_from-flickr.py']
scenario = dict(train=dict(subsample=4))
model = dict(buffer=dict(type='FIFOBuffer', size=65536))
train_cfg = dict(type='OnlineTrainLoop', num_updates=4, shuffle=False, eval_initial=False,
                 reset_optimizer=False)
