"""The order of training samples: one shuffle per epoch for all ranks, one shard per rank, any start step.

Which records a training step uses depends only on ``(seed, epoch, rank, step)``: the records of
epoch ``e`` are shuffled by a generator seeded with ``(seed, e)`` (the same order on every rank),
padded by wrapping to a multiple of the number of ranks, and rank ``r`` takes every
``group_size``-th record from position ``r`` (as MindSpore's ``DistributedSampler`` does); its
step ``j`` is the ``j``-th batch of that shard. A run resumed at any step therefore sees the very
batches an uninterrupted run sees, and the ranks never overlap except for the padding.

The sampler yields *encoded* indices ``epoch · N + record`` so that the dataset's generator knows
the epoch of each sample and seeds its augmentation with ``(seed, epoch, rank, record)``.
"""
import math
from typing import Iterator, Tuple

import mindspore.dataset as ds
import numpy as np

_SEED_MASK = 2 ** 32 - 1


def steps_per_epoch(num_records: int, batch_size: int, group_size: int = 1) -> int:
    """Full batches per epoch on each rank.

    Every rank gets ``ceil(N / group_size)`` records (the shuffled order is padded by wrapping
    around so the shards are equal) and drops the last partial batch.
    """
    return math.ceil(num_records / max(1, group_size)) // batch_size


def epoch_order(num_records: int, seed: int, epoch: int, shuffle: bool = True) -> np.ndarray:
    """All record indices in the order of ``epoch`` (0-based), identical on every rank."""
    if not shuffle:
        return np.arange(num_records)
    return np.random.default_rng([seed & _SEED_MASK, epoch]).permutation(num_records)


def rank_shard(order: np.ndarray, rank: int, group_size: int) -> np.ndarray:
    """The records of ``rank``: ``order`` padded by wrapping to a multiple of ``group_size``, every
    ``group_size``-th from position ``rank``."""
    padded_length = -(-len(order) // group_size) * group_size
    return np.resize(order, padded_length)[rank::group_size]


def encode_index(epoch: int, record: int, num_records: int) -> int:
    """The index the sampler yields for ``record`` in ``epoch``."""
    return epoch * num_records + record


def decode_index(index: int, num_records: int) -> Tuple[int, int]:
    """``(epoch, record)`` of an index from :func:`encode_index` (a plain record index is epoch 0)."""
    return divmod(int(index), num_records)


class TrainingSampler(ds.Sampler):
    """Training samples of global steps, ``chunk`` steps per MindSpore epoch.

    Its ``k``-th iteration (MindSpore iterates a sampler once per epoch, in order, on a copy made
    when the pipeline is built) yields the ``batch_size`` encoded indices of each step of chunk
    ``first_step // chunk + k``. MindSpore requires every iteration to yield ``len(sampler)``
    indices, so a run starting inside a chunk skips its first steps with the dataset's
    ``set_init_step`` (see :func:`src.dataset.keypoint_pipeline`).

    Args:
        num_records: records in the training set.
        batch_size: samples per step on this rank.
        rank, group_size: this rank and the number of ranks.
        seed: ``TRAIN.SEED``.
        shuffle: shuffle each epoch (else records in file order, sharded the same way).
        first_step: global steps already done; iterations start with the chunk of the next step.
        chunk: steps per iteration; default one epoch.
    """

    def __init__(self, num_records: int, batch_size: int, rank: int = 0, group_size: int = 1, seed: int = 0,
                 shuffle: bool = True, first_step: int = 0, chunk: int = 0) -> None:
        self.num_records = int(num_records)
        self.batch_size = int(batch_size)
        self.rank, self.group_size = int(rank), int(group_size)
        self.seed = int(seed)
        self.shuffle = bool(shuffle)
        self.steps_per_epoch = steps_per_epoch(self.num_records, self.batch_size, self.group_size)
        self.first_step = int(first_step)
        self.chunk = int(chunk) or self.steps_per_epoch
        self._iterations = 0
        self._cached: Tuple[int, np.ndarray] = (-1, np.zeros(0, np.int64))
        super().__init__()

    def __len__(self) -> int:
        return self.chunk * self.batch_size

    def shard(self, epoch: int) -> np.ndarray:
        """This rank's records of ``epoch`` (0-based), in order."""
        if self._cached[0] != epoch:
            order = epoch_order(self.num_records, self.seed, epoch, self.shuffle)
            self._cached = (epoch, rank_shard(order, self.rank, self.group_size))
        return self._cached[1]

    def step_indices(self, step: int) -> np.ndarray:
        """The encoded indices of global step ``step`` (0-based)."""
        epoch, j = divmod(step, self.steps_per_epoch)
        records = self.shard(epoch)[j * self.batch_size:(j + 1) * self.batch_size]
        return encode_index(epoch, records, self.num_records)

    def steps_of_iteration(self, k: int) -> range:
        """The global steps (0-based) of the ``k``-th iteration."""
        start = (self.first_step // self.chunk + k) * self.chunk
        return range(start, start + self.chunk)

    def __iter__(self) -> Iterator[int]:
        steps = self.steps_of_iteration(self._iterations)
        self._iterations += 1
        for step in steps:
            yield from (int(i) for i in self.step_indices(step))
