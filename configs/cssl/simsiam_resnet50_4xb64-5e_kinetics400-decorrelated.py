# Kinetics-400, decorrelated source, 5 epochs (README "ResNet-18 on Kinetics-400":
# model.buffer_type="none_noseq" optim.epochs=5; R50: 43.340 / 17.264). 'none_noseq' forces
# n_seq_samples to -1 for the sampler (worker_buffered_simsiam.py lines 195-197), so the
# 64 x #videos indices are shuffled i.i.d. (a batch mixes ~256 videos); the command keeps
# kinetics.yaml's seq_sampling 'consecutive' (line 8): each video's 64 indices read 64
# consecutive frames from a random start (KineticsFrames draws it per video and pass; the
# reference draws it when index 64 v loads, in whichever loader worker, so with shuffled
# indices most reads there use that worker's stale start, 0 at first:
# datasets/imagelistdataset.py lines 80-87).
_base_ = ['./simsiam_resnet50_4xb64-5e_kinetics400-sequential.py']
scenario = dict(train=dict(sampling='consecutive'))
train_dataloader = dict(sampler=dict(block=None))
