"""The pure domain core: commands in, events out, state from events.

Nothing in this package does I/O, reads a clock or draws random numbers; time and
ids are passed in. Same events in, same state out.
"""
