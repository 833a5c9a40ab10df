"""Which daemon leads which site (btu_scheduler.fleet.assign): complete, bounded,
deterministic, and stable when a daemon joins or leaves."""

from __future__ import annotations

import math
import random
from collections import Counter

import pytest

from btu_scheduler.fleet.assign import assign, digest

SITES = [f"site-{i:03d}.example.com" for i in range(120)]


def daemons(n: int) -> list[str]:
    return [f"host-{i}:{1000 + i}" for i in range(n)]


@pytest.mark.parametrize(("n_sites", "n_daemons"), [(1, 1), (1, 3), (7, 2), (12, 2), (120, 7),
                                                    (5, 9), (120, 1), (100, 3)])  # fmt: skip
def test_every_site_assigned_and_bounded(n_sites: int, n_daemons: int) -> None:
    sites, names = SITES[:n_sites], daemons(n_daemons)
    plan = assign(sites, names)
    assert set(sites) == set(plan)
    assert set(plan.values()) <= set(names)
    cap = math.ceil(n_sites / n_daemons)
    assert max(Counter(plan.values()).values()) <= cap


def test_deterministic_regardless_of_order() -> None:
    sites, names = SITES[:50], daemons(4)
    expected = assign(sites, names)
    rng = random.Random(7)
    for _ in range(20):
        s, d = sites[:], names[:]
        rng.shuffle(s)
        rng.shuffle(d)
        assert expected == assign(s, d)
        assert expected == assign(iter(s + s[:5]), d + d[:1])  # duplicates change nothing


def test_nothing_to_assign() -> None:
    assert {} == assign(SITES[:3], [])
    assert {} == assign([], daemons(2))


def moved(before: dict[str, str], after: dict[str, str]) -> int:
    return sum(1 for site in before if before[site] != after[site])


@pytest.mark.parametrize("n_daemons", [2, 3, 5])
def test_few_moves_when_a_daemon_joins(n_daemons: int) -> None:
    """A daemon joining takes about its share; the others' sites mostly stay. The bound
    allows the bounded-load reshuffle (twice the minimum)."""
    names = daemons(n_daemons + 1)
    before = assign(SITES, names[:-1])
    after = assign(SITES, names)
    share = math.ceil(len(SITES) / len(names))
    assert moved(before, after) <= 2 * share, (moved(before, after), share)
    assert Counter(after.values())[names[-1]] >= share - 1


@pytest.mark.parametrize("n_daemons", [2, 3, 5])
def test_few_moves_when_a_daemon_leaves(n_daemons: int) -> None:
    """The leaving daemon's sites move; few others do."""
    names = daemons(n_daemons)
    before = assign(SITES, names)
    after = assign(SITES, names[1:])
    gone = sum(1 for owner in before.values() if owner == names[0])
    assert all(after[s] != names[0] for s in SITES)
    assert moved(before, after) <= 2 * gone, (moved(before, after), gone)


def test_digest_ignores_order_and_duplicates() -> None:
    assert digest(["b", "a"]) == digest(["a", "b", "a"])
    assert digest(["a"]) != digest(["a", "b"])


class TestSticky:
    """With ``current`` (who leads each site now), sites stay where they are within the
    bound: a reload that adds a site, or a daemon joining, moves only what must move."""

    def test_adding_a_site_moves_no_other(self) -> None:
        names = daemons(2)
        for n in range(2, 40):
            before = assign(SITES[:n], names)
            after = assign(SITES[: n + 1], names, before)
            assert 0 == moved(before, after), n
            assert max(Counter(after.values()).values()) <= math.ceil((n + 1) / 2)

    def test_removing_a_site_moves_no_other(self) -> None:
        names = daemons(3)
        before = assign(SITES[:30], names)
        after = assign(SITES[1:30], names, before)
        assert 0 == sum(1 for s in SITES[1:30] if before[s] != after[s])

    def test_a_joining_daemon_takes_only_its_share(self) -> None:
        names = daemons(3)
        before = assign(SITES, names[:2])
        after = assign(SITES, names, before)
        share = math.ceil(len(SITES) / 3)
        assert moved(before, after) == Counter(after.values())[names[2]] <= share
        assert max(Counter(after.values()).values()) <= share

    def test_holder_over_the_bound_keeps_only_the_bound(self) -> None:
        names = daemons(2)
        everything_on_one = dict.fromkeys(SITES[:10], names[0])
        after = assign(SITES[:10], names, everything_on_one)
        assert {names[0]: 5, names[1]: 5} == Counter(after.values())

    def test_dead_or_unknown_holders_are_ignored(self) -> None:
        names = daemons(2)
        current = dict.fromkeys(SITES[:10], "gone:1")
        assert assign(SITES[:10], names) == assign(SITES[:10], names, current)

    def test_deterministic_regardless_of_order(self) -> None:
        names = daemons(3)
        current = dict(zip(SITES[:40], names * 20, strict=False))
        expected = assign(SITES[:50], names, current)
        rng = random.Random(3)
        for _ in range(10):
            s, d = SITES[:50], names[:]
            rng.shuffle(s)
            rng.shuffle(d)
            assert expected == assign(s, d, dict(reversed(list(current.items()))))

    def test_over_the_bound_the_newest_tenure_moves(self) -> None:
        """A daemon that took a new site first (it read the new file first) gives up
        that site, not an old one, once the others serve the same list."""
        names = daemons(2)
        for n in range(2, 30):
            before = assign(SITES[:n], names)
            new = SITES[n]
            for first in names:
                current = before | {new: first}
                since = dict.fromkeys(SITES[:n], 100) | {new: 200}
                after = assign(SITES[: n + 1], names, current, since)
                assert all(before[s] == after[s] for s in SITES[:n]), (n, first)
