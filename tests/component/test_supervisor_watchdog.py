"""The supervisor's silence watchdog: one timer for many reads (issue 6, CPU).

The watchdog is no longer an ``asyncio.timeout`` around every read: one timer runs
while frames flow, and when it fires the silence is measured again. These tests pin
what that must keep: flowing data is never called stale however often the timer
fires, a silence is reported after ``stale_after_s``, and a device that comes back
by itself is live again and watched with ``stale_after_s`` again (not with the
longer ``reopen_after_s`` it was watched with while stale).
"""

from __future__ import annotations

import asyncio

from roomctl.devices.nonin_df2.driver import DRIVER_SPEC as NONIN
from roomctl.readings import LinkState
from simulators.faults import Faults
from simulators.nonin_df2 import NoninDf2Model
from simulators.scenarios import TYPICAL
from tests.component.test_supervisor import Plug, running

STALE_S = 0.4


async def test_flowing_frames_are_never_stale_however_often_the_timer_fires() -> None:
    plug = Plug(lambda: NoninDf2Model(TYPICAL, seed=4))
    async with running(NONIN, plug, stale_after_s=STALE_S) as (supervisor, harness):
        await asyncio.sleep(8 * STALE_S)  # the timer fires several times meanwhile
        assert harness.links() == ["up"]
        assert supervisor.state is LinkState.UP
        assert len(harness.readings()) >= 6


async def test_a_device_that_comes_back_is_live_and_watched_again() -> None:
    # Two silences; the cable is never reopened (reopen_after_s is long).
    faults = Faults(silences=[(1.0, 1.8), (2.6, 3.4)])
    plug = Plug(lambda: NoninDf2Model(TYPICAL, seed=5), faults=faults)
    async with running(NONIN, plug, stale_after_s=STALE_S, reopen_after_s=30.0) as (
        supervisor,
        harness,
    ):
        loop = asyncio.get_running_loop()
        await harness.wait_for(lambda: harness.links() == ["up", "stale"], timeout=3)
        await harness.wait_for(lambda: harness.links()[-1] == "up", timeout=3)
        back = loop.time()
        # The second silence starts about 0.8 s after the first one ended; it must
        # be reported after stale_after_s, not after reopen_after_s.
        took = await harness.wait_for(
            lambda: harness.links() == ["up", "stale", "up", "stale"], timeout=3
        )
        assert loop.time() - back < 0.8 + STALE_S + 0.6, took
        await harness.wait_for(lambda: harness.links()[-1] == "up", timeout=3)
        assert supervisor.state is LinkState.UP
    assert harness.links() == ["up", "stale", "up", "stale", "up"]
    assert plug.opens == 1
