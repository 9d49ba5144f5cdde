"""Reservoir and group-balanced replay buffers."""
from typing import Dict

import torch

from clbox.registry import BUFFERS
from .base import BaseBuffer


@BUFFERS.register_module()
class ReservoirBuffer(BaseBuffer):
    """Reservoir sampling (Vitter, 1985): every sample seen so far is kept with equal
    probability ``size / num_seen``, as in ER (Chaudhry et al., 2019, arXiv:1902.10486).

    Args:
        size (int): Number of slots.
        seed (int): Seed. Defaults to 0.
    """

    def _select_slots(self, batch: Dict[str, torch.Tensor]):
        b = len(batch['labels'])
        seen = self.num_seen + torch.arange(b)  # samples seen before each row
        draw = (torch.rand(b, generator=self.generator) * (seen + 1)).long()
        # rows that arrive while the buffer is not yet full take the next free slot
        free = max(self.size - self.num_seen, 0)
        slots = torch.where(seen < self.size, seen, draw)
        keep = slots < self.size
        if free:
            keep[:free] = True
        rows = keep.nonzero().squeeze(1)
        slots = slots[rows]
        # sequential semantics: when two rows hit the same slot the later one wins
        last = torch.zeros(self.size, dtype=torch.long).fill_(-1)
        last.scatter_reduce_(0, slots, rows, reduce='amax')
        winner = last[slots] == rows
        return slots[winner], rows[winner]


class GroupBalancedBuffer(BaseBuffer):
    """Equal room for every group seen so far (groups: classes, experiences, ...).

    Each group holds a reservoir of its own samples with capacity ``size // num_groups``
    (the remainder goes to the earliest groups). When a new group appears the others shrink
    to the new quota by dropping random members. All steps are tensor operations over the
    slots, so inserting costs the same after 1 or 100 experiences.

    Args:
        size (int): Number of slots.
        seed (int): Seed. Defaults to 0.
    """

    #: Batch field that names a sample's group.
    group_key = 'labels'

    def __init__(self, size: int, seed: int = 0, local: bool = False):
        super().__init__(size, seed, local)
        self.group_of_slot = torch.full((self.size,), -1, dtype=torch.long)
        self.groups = torch.zeros(0, dtype=torch.long)     # group ids, in arrival order
        self.seen_per_group = torch.zeros(0, dtype=torch.long)

    def _quotas(self) -> torch.Tensor:
        n = len(self.groups)
        base, extra = divmod(self.size, n)
        return torch.tensor([base + (i < extra) for i in range(n)], dtype=torch.long) \
            if extra else torch.full((n,), base, dtype=torch.long)

    def _register_groups(self, ids: torch.Tensor) -> None:
        new = ids[~torch.isin(ids, self.groups)]
        if len(new) == 0:
            return
        self.groups = torch.cat([self.groups, new])
        self.seen_per_group = torch.cat([self.seen_per_group, torch.zeros_like(new)])
        self._shrink()

    def _shrink(self) -> None:
        """Free random slots of groups above their quota."""
        full = self.filled.nonzero().squeeze(1)
        if len(full) == 0:
            return
        pos = torch.searchsorted(torch.sort(self.groups).values,
                                 self.group_of_slot[full])
        order_of_sorted = torch.argsort(self.groups)
        gidx = order_of_sorted[pos]                       # group index of each slot
        quota = self._quotas()[gidx]
        key = torch.rand(len(full), generator=self.generator)
        # rank of each slot among its group's slots, in random order
        perm = torch.argsort(gidx.double() + key)
        ranks = torch.empty_like(perm)
        sorted_g = gidx[perm]
        start = torch.searchsorted(sorted_g, sorted_g, right=False)
        ranks[perm] = torch.arange(len(perm)) - start
        drop = full[ranks >= quota]
        self.filled[drop] = False
        self.group_of_slot[drop] = -1

    def _select_slots(self, batch: Dict[str, torch.Tensor]):
        ids = batch[self.group_key]
        self._register_groups(torch.unique(ids))
        quotas = self._quotas()
        all_slots, all_rows = [], []
        for gi in torch.nonzero(torch.isin(self.groups, ids)).squeeze(1).tolist():
            rows = (ids == self.groups[gi]).nonzero().squeeze(1)
            mine = (self.group_of_slot == self.groups[gi]) & self.filled
            count, quota = int(mine.sum()), int(quotas[gi])
            seen = int(self.seen_per_group[gi]) + torch.arange(len(rows))
            draw = (torch.rand(len(rows), generator=self.generator) * (seen + 1)).long()
            # fill free room first, then reservoir-replace a random member of the group
            n_fill = max(min(quota - count, len(rows)), 0)
            free = (~self.filled).nonzero().squeeze(1)[:n_fill]
            n_fill = len(free)
            slots_fill, rows_fill = free, rows[:n_fill]
            members = mine.nonzero().squeeze(1)
            rest = rows[n_fill:]
            accept = draw[n_fill:] < quota
            rest, draw_rest = rest[accept], draw[n_fill:][accept]
            if len(rest) and len(members) + n_fill > 0:
                pool = torch.cat([members, slots_fill])
                targets = pool[draw_rest % len(pool)]
                # the later row wins a slot hit twice
                last = torch.full((self.size,), -1, dtype=torch.long)
                last.scatter_reduce_(0, targets, rest, reduce='amax')
                win = last[targets] == rest
                all_slots.append(targets[win])
                all_rows.append(rest[win])
            all_slots.insert(0, slots_fill)
            all_rows.insert(0, rows_fill)
            self.group_of_slot[slots_fill] = self.groups[gi]
            self.filled[slots_fill] = True  # claimed: later groups of this batch skip them
            self.seen_per_group[gi] += len(rows)
        if not all_slots:
            empty = torch.zeros(0, dtype=torch.long)
            return empty, empty
        slots, rows = torch.cat(all_slots), torch.cat(all_rows)
        self.group_of_slot[slots] = ids[rows]
        return slots, rows

    def _extra_state(self) -> dict:
        return dict(group_of_slot=self.group_of_slot.clone(), groups=self.groups.clone(),
                    seen_per_group=self.seen_per_group.clone())

    def _load_extra_state(self, state: dict) -> None:
        self.group_of_slot = state['group_of_slot'].clone()
        self.groups = state['groups'].clone()
        self.seen_per_group = state['seen_per_group'].clone()

    def group_counts(self) -> Dict[int, int]:
        """Number of stored samples per group id."""
        ids = self.group_of_slot[self.filled]
        values, counts = torch.unique(ids, return_counts=True)
        return dict(zip(values.tolist(), counts.tolist()))


@BUFFERS.register_module()
class ClassBalancedBuffer(GroupBalancedBuffer):
    """Equal room per class seen so far, a reservoir within each class (as Avalanche's
    ``ClassBalancedBuffer`` and GDumb, Prabhu et al., ECCV 2020)."""

    group_key = 'labels'


@BUFFERS.register_module()
class ExperienceBalancedBuffer(GroupBalancedBuffer):
    """Equal room per experience seen so far, a reservoir within each experience (as
    Avalanche's ``ExperienceBalancedBuffer``)."""

    group_key = 'experience'
