"""The CWR* head."""
import math

import pytest
import torch

from clbox.models.heads import CWRStarHead


def test_consolidation_matches_hand_computation():
    head = CWRStarHead(num_classes=3, in_channels=2)
    # experience 1: classes 0 and 1, 4 and 2 samples
    head.reset_training_weights([0, 1])
    assert torch.equal(head.fc.weight, torch.zeros(3, 2))
    with torch.no_grad():
        head.fc.weight.copy_(torch.tensor([[1.0, 3.0], [-1.0, 1.0], [9.0, 9.0]]))
    head.consolidate([0, 1], [4, 2])
    # mean of tw[0,1] = (1 + 3 - 1 + 1) / 4 = 1; past = 0 -> w_past = 0: cw = tw - 1
    torch.testing.assert_close(head.consolidated_weight,
                               torch.tensor([[0.0, 2.0], [-2.0, 0.0], [0.0, 0.0]]))
    assert head.past_counts.tolist() == [4, 2, 0]
    # experience 2: classes 0 and 2, 1 and 3 samples; tw starts at cw for 0, 0 for 2
    head.reset_training_weights([0, 2])
    torch.testing.assert_close(head.fc.weight,
                               torch.tensor([[0.0, 2.0], [0.0, 0.0], [0.0, 0.0]]))
    with torch.no_grad():
        head.fc.weight.copy_(torch.tensor([[2.0, 4.0], [5.0, 5.0], [0.0, 2.0]]))
    head.consolidate([0, 2], [1, 3])
    mean = (2 + 4 + 0 + 2) / 4  # 2
    w0 = math.sqrt(4 / 1)       # class 0: past 4, cur 1
    cw0 = [(0 * w0 + 2 - mean) / (w0 + 1), (2 * w0 + 4 - mean) / (w0 + 1)]
    cw2 = [0 - mean, 2 - mean]  # class 2: first time, w_past = 0
    torch.testing.assert_close(head.consolidated_weight,
                               torch.tensor([cw0, [-2.0, 0.0], cw2]))
    assert head.past_counts.tolist() == [5, 2, 3]


def test_eval_uses_consolidated_weights_for_seen_classes():
    head = CWRStarHead(num_classes=3, in_channels=2)
    with torch.no_grad():
        head.fc.weight.copy_(torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]))
    head.consolidate([0], [5])  # only class 0 consolidated: cw0 = tw0 - mean(tw0) = [.5,-.5]
    x = torch.tensor([[2.0, 1.0]])
    head.train()
    torch.testing.assert_close(head((x,)), torch.tensor([[2.0, 1.0, 3.0]]))
    head.eval()
    torch.testing.assert_close(head((x,)), torch.tensor([[0.5, 1.0, 3.0]]))


def test_errors_and_checkpoint_state():
    head = CWRStarHead(num_classes=3, in_channels=2)
    with pytest.raises(ValueError, match='outside'):
        head.reset_training_weights([3])
    with pytest.raises(ValueError, match='positive count'):
        head.consolidate([0, 1], [1])
    with pytest.raises(ValueError, match='GlobalAveragePooling'):
        head((torch.randn(1, 2, 3, 3),))
    head.consolidate([1], [2])
    other = CWRStarHead(num_classes=3, in_channels=2)
    other.load_state_dict(head.state_dict())
    assert other.past_counts.tolist() == [0, 2, 0]
