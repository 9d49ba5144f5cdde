# Row 10 ("Head FT + class-balanced replay", val 65.291, test 62.58; commit 029da65, v4.4
# ocl/modules/trainer.py FinetuneHeadTrainer, ocl/sampler/class_aware_sampler.py): after
# every update, one head-only SGD step (lr 1e-4, CE, no scheduler) on 6 memory samples drawn
# one per class in turn (ClassAwareSampler, sample_per_class=1), restarted with every replay
# draw. Not in the final method (its val gains came with test losses; spec sec. 5 item 5).
_base_ = ['./r09-cb-focal_resnet50d_1xb10-1pass_sslad3a.py']
model = dict(head_finetune=dict(lr=1e-4, batch_size=6))
