# Kinetics-400, single pass through a 64K MinRed buffer, 5 updates per incoming batch
# (README "ResNet-18 on Kinetics-400": ... model=bstream model.buffer_type="minred"
# model.buff_siz=65536 model.num_updates=5 optim.epochs=1; R50: 40.584 / 15.636): the FIFO run
# with
# MinRed's eviction (datasets/mysampler.py MinRedBufferBatchSampler, lines 488-760: remove
# the seen sample most similar to its nearest neighbour, features averaged with gamma 0.5).
_base_ = ['./simsiam-fifo_resnet50_4xb64-x5_kinetics400.py']
model = dict(buffer=dict(type='MinRedBuffer', gamma=0.5))
