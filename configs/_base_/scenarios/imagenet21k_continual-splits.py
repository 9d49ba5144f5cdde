# Continual Full ImageNet: 4 splits of the Full ImageNet (21k synsets) streamed one after
# the other in file order, in one of the README's orders '0123', '0312', '3120'
# (senthilps8/continuous_ssl_problem README "ResNet-18 on Continual Full ImageNet";
# configs/simsiam/data/memmap_sequential.yaml lines 1-11: type 'memmap', 12,757,384
# entries, fn_dtype "S120", shuffle False). The reference ships each order as one
# concatenated list (datasets/lists/fullimagenet_{order}.memmap); here each split has its
# own list so the stream knows its boundaries (ContinualSplitStream.boundaries(); every
# sample carries `split` and `stage`, packed into the data samples below).
# Layout:
#   data/imagenet21k/<wnid>/<image>.JPEG  the Full ImageNet images
#   data/imagenet21k/continual_splits/split{0,1,2,3}.memmap  each split's images, 120-byte
#       entries relative to data/imagenet21k, in streaming order (text lists, one path per
#       line, work too)
# Change the order with --cfg-options "scenario.train.order='0312'" (quoted: unquoted,
# 0312 parses as a number); `order` below is read only when this file loads.
# The buffer runs read every 4th entry (HEAD's data.subsample=4, README; the initial
# release streamed filelist_{order}_f4.memmap, 3,189,346 entries = 1/4): rows set
# scenario.train.subsample. 64 images per GPU, 4 GPUs.
_base_ = ['./simsiam-224_imagenet-knn.py']
data_root = 'data/imagenet21k'
order = '0123'
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='MultiView', num_views=2, transforms=[_base_.view]),
    dict(type='PackInputs', meta_keys=('sample_idx', 'img_path', 'ori_shape', 'img_shape',
                                       'scale_factor', 'flip', 'flip_direction', 'split',
                                       'stage')),
]
scenario = dict(train=dict(
    type='ContinualSplitStream', data_root=data_root, order=order, subsample=1, width=120,
    splits=['continual_splits/split0.memmap', 'continual_splits/split1.memmap',
            'continual_splits/split2.memmap', 'continual_splits/split3.memmap'],
    pipeline=train_pipeline))
train_dataloader = dict(batch_size=64, num_workers=10,
                        sampler=dict(type='DefaultSampler', shuffle=False),
                        collate_fn=dict(type='default_collate'))
