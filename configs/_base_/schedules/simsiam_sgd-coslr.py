# SimSiam's optimisation in the continuous-SSL reference (senthilps8/continuous_ssl_problem):
# - SGD, lr 0.05 as given at the global batch of 256, no batch scaling (README commands:
#   optim.lr=0.05; worker_buffered_simsiam.py lines 149-152 pass args.optim.lr unchanged),
#   momentum 0.9, weight decay 1e-4 on every parameter (configs/simsiam/optim/default.yaml
#   lines 7-8);
# - the predictor kept at the base lr (fix_pred_lr: True, optim/default.yaml line 6;
#   param groups in worker_buffered_simsiam.py lines 132-145, utils.py lines 91-93):
#   paramwise fix_lr plus SimSiamHook, which restores it before every iteration;
# - cosine lr set every iteration, lr * 1/2 (1 + cos(pi e / epochs)) with e = epoch +
#   iteration / len(loader) (utils.py lines 71-72, worker_buffered_simsiam.py lines
#   322-326). With a buffer, len(loader) counts the repeated updates, so the cosine spans
#   all N x num_updates / B updates. Here T_max counts passes of the incoming stream and
#   convert_to_iter_based makes it iterations: rows set T_max to their epochs (conventional)
#   or num_updates (buffered), so the cosine spans every update of the run. `end` must say
#   the same: mmengine ends an epoch-based scheduler at the loop's max_epochs otherwise,
#   which is 1 for the single-pass loop (the lr would freeze after 1/num_updates of it).
_base_ = ['../default_runtime.py']
lr = 0.05
optim_wrapper = dict(optimizer=dict(type='SGD', lr=lr, momentum=0.9, weight_decay=1e-4),
                     paramwise_cfg=dict(custom_keys={'predictor': dict(fix_lr=True)}))
param_scheduler = [dict(type='CosineAnnealingLR', T_max=1, end=1, by_epoch=True,
                        convert_to_iter_based=True)]
custom_hooks = [dict(type='ContinualResultsHook'), dict(type='ProgressBarHook'),
                dict(type='SimSiamHook', priority='HIGH', fix_pred_lr=True, lr=lr,
                     adjust_by_epoch=False)]
