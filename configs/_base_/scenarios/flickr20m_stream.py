# Flickr-20M: 20M uncurated Creative-Commons Flickr images, a memory-mapped file list in
# random order, streamed shuffled (senthilps8/continuous_ssl_problem
# configs/simsiam/data/flickr20M.yaml lines 1-7: type 'memmap', num_files 20,000,000,
# fn_dtype "S120", train_filelist datasets/flickrCC/lists/flickr-20M.memmap; no `shuffle`
# key, so worker_buffered_simsiam.py line 199 shuffles).
# Layout:
#   data/flickr/lists/flickr-20M.memmap  20,000,000 entries of 120 bytes, image paths
#       relative to data/flickr (datasets/flickrCC/convert_to_mmaps.py lines 6-18)
#   data/flickr/<path with .jpg -> -256p.jpg>  the images, short side 256
#       (datasets/flickrCC/download_subset.py RESIZE = 256; the loader's replacement,
#       datasets/imagelistdataset.py line 407)
# 64 images per GPU, 4 GPUs (the README command: environment.ngpu=4,
# optim.batch_size 256 in configs/simsiam/optim/default.yaml line 4, divided by the GPUs in
# worker_buffered_simsiam.py line 101); 10 loader workers per GPU (environment.workers=40).
_base_ = ['./simsiam-224_imagenet-knn.py']
data_root = 'data/flickr'
scenario = dict(train=dict(type='MemmapImageList', data_root=data_root,
                           ann_file='lists/flickr-20M.memmap', width=120,
                           num_files=20_000_000, replace=('.jpg', '-256p.jpg'),
                           pipeline=_base_.train_pipeline))
train_dataloader = dict(batch_size=64, num_workers=10,
                        sampler=dict(type='DefaultSampler', shuffle=True),
                        collate_fn=dict(type='default_collate'))
