"""The training sample order (src/data/sampler.py): shared shuffle, rank shards, resume at any step."""
import mindspore.dataset as ds
import numpy as np
import pytest

from src.data.sampler import TrainingSampler, decode_index, encode_index, epoch_order, rank_shard, steps_per_epoch


def stream(sampler, iterations):
    """The encoded indices of the first ``iterations`` iterations, as MindSpore draws them."""
    return [i for _ in range(iterations) for i in sampler]


def test_encode_decode_round_trip():
    for epoch, record in [(0, 0), (0, 9), (3, 4), (140, 9)]:
        assert decode_index(encode_index(epoch, record, 10), 10) == (epoch, record)


def test_epoch_order_is_a_seeded_permutation():
    first = epoch_order(50, seed=1, epoch=0)
    assert sorted(first) == list(range(50))
    np.testing.assert_array_equal(first, epoch_order(50, seed=1, epoch=0))
    assert not np.array_equal(first, epoch_order(50, seed=1, epoch=1))
    assert not np.array_equal(first, epoch_order(50, seed=2, epoch=0))
    np.testing.assert_array_equal(epoch_order(5, seed=1, epoch=3, shuffle=False), np.arange(5))


@pytest.mark.parametrize("records,group", [(10, 2), (11, 3), (4, 4), (3, 5)])
def test_rank_shards_cover_every_record_equally(records, group):
    order = epoch_order(records, seed=0, epoch=0)
    shards = [rank_shard(order, r, group) for r in range(group)]
    assert len({len(s) for s in shards}) == 1
    assert set(np.concatenate(shards)) == set(range(records))
    # the padding repeats the fewest records possible, from the start of the order
    assert len(np.concatenate(shards)) - records == -records % group


def test_two_ranks_share_the_order_and_split_each_epoch():
    n, batch = 23, 2
    ranks = [TrainingSampler(n, batch, rank=r, group_size=2, seed=5) for r in (0, 1)]
    assert ranks[0].steps_per_epoch == 6 and len(ranks[0]) == 12
    for epoch in range(3):
        seen = [decode_index(i, n) for r in ranks for i in stream_of_epoch(r, epoch)]
        assert {e for e, _ in seen} == {epoch}
        records = [rec for _, rec in seen]
        assert len(records) == 24 and set(records) == set(range(n))   # 23 records padded to 24
        order = epoch_order(n, 5, epoch)
        # each rank's steps walk its shard of the one shared order
        for r, sampler in enumerate(ranks):
            mine = [decode_index(i, n)[1] for i in stream_of_epoch(sampler, epoch)]
            assert mine == list(rank_shard(order, r, 2)[:12])


def stream_of_epoch(sampler, epoch):
    return [i for step in range(epoch * sampler.steps_per_epoch, (epoch + 1) * sampler.steps_per_epoch)
            for i in sampler.step_indices(step)]


def test_every_record_once_per_epoch_over_ranks_when_batches_are_full():
    n = 24
    ranks = [TrainingSampler(n, 3, rank=r, group_size=2, seed=0) for r in (0, 1)]
    for epoch in range(2):
        records = sorted(decode_index(i, n)[1] for r in ranks for i in stream_of_epoch(r, epoch))
        assert records == list(range(n))


def test_resumed_sampler_continues_the_stream():
    n, batch, chunk = 40, 4, 5     # 10 steps per epoch, two chunks each
    fresh = stream(TrainingSampler(n, batch, seed=3, chunk=chunk), 6)
    for first_step in (5, 10, 25):
        resumed = stream(TrainingSampler(n, batch, seed=3, first_step=first_step, chunk=chunk),
                         6 - first_step // chunk)
        assert resumed == fresh[first_step * batch:]
    # A start inside a chunk yields that whole chunk; the pipeline skips its first steps.
    inside = stream(TrainingSampler(n, batch, seed=3, first_step=7, chunk=chunk), 1)
    assert inside == fresh[5 * batch:10 * batch]


def test_mindspore_iterates_the_sampler_once_per_epoch_in_order():
    """The sampler counts its iterations: MindSpore must iterate it once per epoch, on a fresh copy."""
    n, batch = 12, 2

    class Source:
        def __len__(self):
            return n

        def __getitem__(self, index):
            return (np.int64(index),)

    sampler = TrainingSampler(n, batch, seed=1, chunk=3)
    dataset = ds.GeneratorDataset(Source(), ["index"], sampler=sampler, num_parallel_workers=1)
    dataset = dataset.batch(batch, drop_remainder=True)
    assert dataset.get_dataset_size() == 3
    dataset.output_shapes()   # a getter builds its own copy of the pipeline
    iterator = dataset.create_tuple_iterator(num_epochs=4, output_numpy=True)
    got = [[int(v) for batch_ in iterator for v in batch_[0]] for _ in range(4)]
    expected = [[int(i) for step in range(3 * k, 3 * k + 3) for i in sampler.step_indices(step)] for k in range(4)]
    assert got == expected


@pytest.mark.parametrize("records,batch,group,expected", [(100, 8, 1, 12), (100, 8, 3, 4), (7, 8, 1, 0),
                                                         (149813, 64, 1, 2340), (149813, 32, 8, 585)])
def test_steps_per_epoch(records, batch, group, expected):
    assert steps_per_epoch(records, batch, group) == expected
