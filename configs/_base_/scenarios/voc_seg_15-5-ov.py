# Pascal VOC 2012 augmented, task 15-5 overlapped: the 15-1 setting with one 5-class step.
_base_ = ['./voc_seg_15-1-ov.py']
scenario = dict(task='15-5')
