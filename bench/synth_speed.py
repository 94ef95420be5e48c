"""How fast the built-in ambient library is synthesised (CPU seconds per minute).

.venv/bin/python -m bench.synth_speed
"""

from __future__ import annotations

import time

from roomctl.playlists.synth import MUSIC_PHASES, SynthSpec, render_track


def main() -> None:
    """Render two minutes per phase at two sample rates and print CPU per minute."""
    render_track(MUSIC_PHASES[0], 0, SynthSpec(duration_s=5.0))  # warm-up
    for rate in (22050, 44100):
        spec = SynthSpec(duration_s=120.0, sample_rate=rate, channels=2, seed=1)
        start = time.process_time()
        for phase in MUSIC_PHASES:
            render_track(phase, 0, spec)
        per_minute = (time.process_time() - start) / (len(MUSIC_PHASES) * 2.0)
        print(f"{rate} Hz stereo: {per_minute:.2f} s of CPU per minute of audio")


if __name__ == "__main__":
    main()
