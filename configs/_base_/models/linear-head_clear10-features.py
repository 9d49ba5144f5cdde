# A linear head on frozen, pre-extracted 2048-d features (CLEAR's linear-probe protocol).
# Features come from tools/extract_features.py; FeatureInput passes them on unchanged.
model = dict(
    type='Naive',
    model=dict(
        type='ImageClassifier',
        data_preprocessor=dict(type='ClsDataPreprocessor', num_classes=11),
        backbone=dict(type='FeatureInput', dim=2048),
        head=dict(type='LinearClsHead', num_classes=11, in_channels=2048,
                  loss=dict(type='CrossEntropyLoss', loss_weight=1.0), topk=(1, 5)),
    ),
)
