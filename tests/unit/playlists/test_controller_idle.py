"""The mixer rests when nothing moves, and still acts on time (issue 6, CPU).

While a ramp or a fade runs, the mixer steps volumes every ``tick_s``. With a track
simply playing, it used to wake 10 times a second anyway, to poll the position; now
it sleeps until the next thing due (a start timeout, the end-of-track crossfade) or
a command or player event, and at most ``IDLE_TICK_MAX_S``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import pytest

from roomctl.playlists.controller import IDLE_TICK_MAX_S
from roomctl.playlists.model import Phase
from tests.unit.playlists.fakes import FakePlayer, make_playlist
from tests.unit.playlists.test_controller import SETTINGS, Rig, _seed_putting_last

if TYPE_CHECKING:
    from roomctl.clock import VirtualClock


@dataclass
class CountingPlayer(FakePlayer):
    """A fake player that counts how often the controller asks for a position."""

    position_queries: int = 0

    def position_s(self, deck: int) -> float | None:
        self.position_queries += 1
        return super().position_s(deck)


async def test_a_steady_track_is_not_polled_ten_times_a_second(
    clock: VirtualClock,
) -> None:
    player = CountingPlayer(clock)
    async with Rig(clock, player=player) as rig:
        rig.controller.set_phase(Phase.PEAK)
        await rig.time.advance(10.0)  # started and faded in
        volumes, player.position_queries = len(player.volumes), 0
        await rig.time.advance(60.0)
        # At most one look a second (each look asks twice: when to look next, and
        # whether to cross over), against 600 looks at the 10 Hz tick.
        looks = 60.0 / IDLE_TICK_MAX_S
        assert player.position_queries <= 2 * looks + 4
        assert len(player.volumes) == volumes  # nothing to send: nothing sent
        assert player.last_volume(0) == pytest.approx(40.0)


async def test_a_command_wakes_a_resting_mixer_at_once(clock: VirtualClock) -> None:
    async with Rig(clock) as rig:
        rig.controller.set_phase(Phase.PEAK)
        await rig.time.advance(10.3)  # resting, mid-way through a long sleep
        rig.controller.duck(on=True)
        start = clock.monotonic()
        await rig.time.advance(SETTINGS.tick_s + 0.01)
        lowered = [v for v in rig.volumes(0, since=start) if v[1] < 40.0]
        assert lowered, "the duck did not start within one tick"
        assert lowered[0][0] <= start + SETTINGS.tick_s + 1e-6
        await rig.time.advance(2.0)
        assert rig.player.last_volume(0) == pytest.approx(20.0)  # duck_percent 50


async def test_a_player_event_wakes_a_resting_mixer(clock: VirtualClock) -> None:
    player = FakePlayer(clock, auto_start=False)
    async with Rig(clock, player=player) as rig:
        rig.controller.set_phase(Phase.PEAK)
        await rig.time.advance(1.45)  # loaded; waiting for the start or the timeout
        player.start(0)
        start = clock.monotonic()
        await rig.time.advance(SETTINGS.tick_s + 0.01)
        rising = [v for v in rig.volumes(0, since=start) if v[1] > 0.0]
        assert rising, "the fade-in did not start within one tick of STARTED"
        assert rising[0][0] <= start + SETTINGS.tick_s + 1e-6


async def test_a_stuck_track_still_times_out_on_time(clock: VirtualClock) -> None:
    playlist = make_playlist(Phase.PEAK, "stuck.wav", "fine.wav")
    player = FakePlayer(clock, stuck={"stuck.wav"})
    async with Rig(clock, player=player, playlists={Phase.PEAK: playlist}) as rig:
        rig.controller.begin_session(seed=_seed_putting_last(playlist, "fine.wav"))
        rig.controller.set_phase(Phase.PEAK)
        await rig.time.advance(6.0)
        (t0, _, first), (t1, _, second) = player.loads
        assert (first, second) == ("stuck.wav", "fine.wav")
        timeout = SETTINGS.start_timeout_s
        assert timeout < t1 - t0 <= timeout + 2 * SETTINGS.tick_s


async def test_the_end_of_track_crossfade_starts_on_time(clock: VirtualClock) -> None:
    player = FakePlayer(clock, default_length_s=30.0)
    async with Rig(clock, player=player) as rig:
        rig.controller.set_phase(Phase.PEAK)
        await rig.time.advance(40.0)
        (t0, _, _), (t1, _, _) = player.loads[:2]
        # Due when 4 s (the crossfade) plus one tick are left of 30 s: at 25.9 s.
        due = 30.0 - SETTINGS.crossfade_s - SETTINGS.tick_s
        assert due - 1e-6 <= t1 - t0 <= due + SETTINGS.tick_s + 1e-6
