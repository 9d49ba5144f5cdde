# FIFO x4: as the MinRed arm with a 512-sample FIFO buffer (it holds 512 / 16 = 32 sources).
_base_ = ['./simsiam-minred_convnet-small_1xb64-x4_fmnist-pseudovideo.py']
model = dict(buffer=dict(type='FIFOBuffer', size=512))
