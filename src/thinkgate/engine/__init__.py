"""The engine: commands to events, per-session serialisation, hot-state cache, snapshots."""
