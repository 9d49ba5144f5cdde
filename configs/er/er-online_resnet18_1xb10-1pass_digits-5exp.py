_base_ = ['./er_resnet18_1xb32-5e_digits-5exp.py']
# Online ER: one pass over the stream in incoming batches of 10, three updates per batch
# (each mixing 10 replayed samples from a 200-slot reservoir), boundaries hidden from the
# method; the test stream is still evaluated at every boundary.
scenario = dict(
    _delete_=True, type='OnlineStream', batch_size=10, boundaries='hidden',
    scenario={{_base_.scenario}})
model = dict(buffer=dict(_delete_=True, type='ReservoirBuffer', size=200))
train_cfg = dict(_delete_=True, type='OnlineTrainLoop', num_updates=3)
