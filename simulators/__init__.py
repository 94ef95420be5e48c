"""Device simulators: device-side models speaking the real wire protocols."""
