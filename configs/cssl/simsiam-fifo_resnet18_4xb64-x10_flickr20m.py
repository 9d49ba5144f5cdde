# Flickr-20M, single pass through a 64K FIFO buffer, 10 updates per incoming batch
# (senthilps8/continuous_ssl_problem README "ResNet-18 on Flickr-20M": model=bstream
# model.buff_siz=65536 model.num_updates=10 optim.epochs=1; R18: 41.760 / 17.404).
# - 65,536 slots in all, 16,384 per GPU (worker_buffered_simsiam.py line 217: buff_siz /
#   world_size), each GPU buffering its own shard of the shuffled stream;
# - no update until a GPU's buffer is full, then per incoming batch of 64 ten batches of 64
#   drawn uniformly without replacement, the skipped ones at the end
#   (datasets/mysampler.py BufferBatchSampler.__iter__, lines 370-409; len() = stream x
#   repeat / batch, line 412): 781,250 updates per GPU, as many as the 10-epoch run;
# - cosine over all of them (T_max = 10 passes of the incoming stream).
_base_ = ['../_base_/models/simsiam_resnet18.py', '../_base_/scenarios/flickr20m_stream.py',
          '../_base_/schedules/simsiam_sgd-coslr.py']
model = dict(buffer=dict(type='FIFOBuffer', size=65536))
train_cfg = dict(type='OnlineTrainLoop', num_updates=10, shuffle=True, eval_initial=False,
                 reset_optimizer=False)
param_scheduler = [dict(type='CosineAnnealingLR', T_max=10, end=10, by_epoch=True,
                        convert_to_iter_based=True)]
