# CLEAR-10 streaming, served as pre-extracted features. Extract them once with
#   python tools/extract_features.py configs/clear/resnet50.py \
#       --out data/clear_features/clear10/resnet50 [--checkpoint resnet50.pth]
# (feature_root/feature_type is the --out folder).
_base_ = ['./clear10_streaming.py']
scenario = dict(feature_type='resnet50', feature_root='data/clear_features/clear10',
                train_pipeline=[], test_pipeline=[])
train_dataloader = dict(batch_size=256, num_workers=0)
val_dataloader = dict(batch_size=1024, num_workers=0)
test_dataloader = val_dataloader
