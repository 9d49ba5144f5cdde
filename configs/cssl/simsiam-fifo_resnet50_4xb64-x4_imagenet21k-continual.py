# Continual Full ImageNet, a 64K FIFO buffer, 4 updates per incoming batch on every 4th
# image (senthilps8/continuous_ssl_problem README "Single Pass (Buffer - 4 Updates with 1/4
# data)": data.subsample=4 model=bstream model.num_updates=4 model.buff_siz=65536, plus the
# section's common flags: constant lr 0.01, 1 epoch, Flickr-200M init, save_freq 0.05;
# results for R18 only, the command's arch option resnet50).
# Same number of updates as the conventional run: 1/4 of the stream x 4. The stream stays
# in file order (memmap_sequential.yaml line 10); 16,384 slots per GPU.
_base_ = ['../_base_/models/simsiam_resnet50.py',
          '../_base_/scenarios/imagenet21k_continual-splits.py',
          '../_base_/schedules/simsiam_sgd-constlr-0.01_from-flickr.py']
scenario = dict(train=dict(subsample=4))
model = dict(buffer=dict(type='FIFOBuffer', size=65536))
train_cfg = dict(type='OnlineTrainLoop', num_updates=4, shuffle=False, eval_initial=False,
                 reset_optimizer=False)
