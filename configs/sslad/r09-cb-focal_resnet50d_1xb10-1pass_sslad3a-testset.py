# The final method (row 9) on the challenge's hidden-label test set: the stream is the same,
# the evaluation after each task reads data_root/test_track3A/* (the kit's --test, files in
# the order of their first two digits; read with a restricted unpickler, never pickle.load)
# and appends each point's 7 logits per sample to WORK_DIR/submission/r09_<k>_output.txt
# (the kit's --store). tools/test.py on a per-task checkpoint rewrites that point's block.
_base_ = ['./r09-cb-focal_resnet50d_1xb10-1pass_sslad3a.py']
scenario = dict(test_set='test')
val_evaluator = dict(_delete_=True, type='SSLADSubmissionWriter', out_dir='submission',
                     name='r09')
test_evaluator = val_evaluator
