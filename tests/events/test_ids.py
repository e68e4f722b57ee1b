import uuid

from binance_mcp.events.ids import CommandIds


def test_ids_are_valid_uuid_v7_carrying_the_clock_ms() -> None:
    ids = CommandIds(clock_ms=lambda: 1_732_841_234_567)
    parsed = uuid.UUID(hex=ids())
    assert parsed.version == 7
    assert parsed.variant == uuid.RFC_4122
    assert parsed.int >> 80 == 1_732_841_234_567


def test_ids_strictly_increase_within_one_millisecond_and_when_the_clock_steps_back() -> None:
    ticks = iter([5_000] * 5000 + [4_000] * 10 + [6_000])
    ids = CommandIds(clock_ms=lambda: next(ticks))
    made = [ids() for _ in range(5011)]
    assert made == sorted(made)
    assert len(set(made)) == len(made)
    # past 4096 ids in one millisecond the generator borrows the next millisecond
    assert uuid.UUID(hex=made[4096]).int >> 80 == 5_001
    # a clock that steps back does not make ids go back
    assert uuid.UUID(hex=made[5009]).int >> 80 == 5_001
    assert uuid.UUID(hex=made[5010]).int >> 80 == 6_000


def test_ids_differ_in_their_random_bits() -> None:
    ids = CommandIds(clock_ms=lambda: 1)
    a, b = uuid.UUID(hex=ids()), uuid.UUID(hex=ids())
    assert (a.int & ((1 << 62) - 1)) != (b.int & ((1 << 62) - 1))
