# ADE20K (20,210 training / 2,000 validation, 150 classes + 'other' as background), 100-50
# overlapped, with the pipelines and loaders of the VOC setting (MiB Sec. 4.1).
_base_ = ['./voc_seg_15-1-ov.py']
data_root = 'data/ade/ADEChallengeData2016'
scenario = dict(
    type='ADESegIncremental', data_root=data_root, task='100-50',
    label_cache='work_dirs/label_cache/ade_train_val.json')
