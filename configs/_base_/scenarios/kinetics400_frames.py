# Kinetics-400 frames: every video owns 64 stream indices per pass, each a uniformly random
# frame of the video (senthilps8/continuous_ssl_problem configs/simsiam/data/kinetics.yaml
# lines 1-8: type 'sequential', n_seq_samples 64; the README's Kinetics commands pass
# data.seq_sampling="random" to every run but "decorrelated"; KineticsSequentialDataset,
# datasets/imagelistdataset.py lines 32-152). The conventional (buffer-free) epochs deal
# whole videos: each per-GPU batch is one video, videos in random order
# (ResumableDistributedSampler / ResumableBatchSampler with n_seq_samples=64,
# datasets/mysampler.py lines 125-148 and 225-258; EpochChunkSampler block=64 here).
# Layout:
#   data/kinetics400/kinetics_filelist.txt  "<video_dir> <num_frames>" per line (the
#       reference's datasets/lists/kinetics_filelist.txt, datasets/DATA_PREPARATION.md)
#   data/kinetics400/<video_dir>/001.jpeg, 002.jpeg, ...  frames, 1-based, 3 digits
#       (fname_fmt '{:03d}.jpeg', line 38; the README says 8 FPS, the reference's
#       extraction script writes 10 FPS %05d.jpg: rename to this pattern)
# 64 frames per GPU (one video), 4 GPUs, 10 loader workers per GPU (README command).
_base_ = ['./simsiam-224_imagenet-knn.py']
data_root = 'data/kinetics400'
scenario = dict(train=dict(type='KineticsFrames', data_root=data_root,
                           ann_file='kinetics_filelist.txt', frames_per_video=64,
                           sampling='random', filename_tmpl='{:03d}.jpeg',
                           pipeline=_base_.train_pipeline))
train_dataloader = dict(batch_size=64, num_workers=10,
                        sampler=dict(type='EpochChunkSampler', batch_size=64, shuffle=True,
                                     block=64),
                        collate_fn=dict(type='default_collate'))
