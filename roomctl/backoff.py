"""Reconnect and restart timing: one jittered exponential backoff for every loop.

Full jitter (``uniform(0, min(cap, base * 2**attempt))``, as aiomqtt v3 and pymodbus
do it) spreads reconnects out; the attempt count resets once a connection has stayed
healthy for ``healthy_after_s``. Also the fault-domain wrapper ``restarting`` for
auxiliary components (style.md C4): their failures are logged and reported, then they
restart; they never take the alarm path down with them.
"""

from __future__ import annotations

import asyncio
import logging
import random
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

_LOGGER = logging.getLogger(__name__)


@dataclass(slots=True, kw_only=True)
class Backoff:
    """Delays for successive retries.

    >>> b = Backoff(base_s=1.0, cap_s=8.0, rng=random.Random(1))
    >>> [round(b.next_delay(), 2) for _ in range(5)]
    [0.13, 1.69, 3.06, 2.04, 3.96]
    """

    base_s: float = 0.5
    cap_s: float = 30.0
    healthy_after_s: float = 10.0
    rng: random.Random = field(default_factory=random.Random)
    attempt: int = 0

    def next_delay(self) -> float:
        """The delay before the next try; each call counts one more attempt."""
        ceiling = min(self.cap_s, self.base_s * 2 ** min(self.attempt, 30))
        self.attempt += 1
        return self.rng.uniform(0, ceiling)

    def connection_lasted(self, seconds: float) -> None:
        """Reset the attempt count after a connection that stayed up long enough."""
        if seconds >= self.healthy_after_s:
            self.attempt = 0


async def restarting(
    component: str,
    run: Callable[[], Awaitable[None]],
    *,
    backoff: Backoff | None = None,
    on_failure: Callable[[str, BaseException], None] | None = None,
) -> None:
    """Run an auxiliary component forever, restarting it after any failure.

    Cancellation ends it; any other exception is logged with its traceback, reported
    through ``on_failure`` and followed by a backoff delay and a restart.
    """
    delays = backoff if backoff is not None else Backoff()
    loop = asyncio.get_running_loop()
    while True:
        started = loop.time()
        try:
            await run()
        except Exception as exc:
            _LOGGER.error("%s failed; restarting it", component, exc_info=exc)
            if on_failure is not None:
                on_failure(component, exc)
        else:
            _LOGGER.warning("%s stopped by itself; restarting it", component)
        delays.connection_lasted(loop.time() - started)
        await asyncio.sleep(delays.next_delay())
