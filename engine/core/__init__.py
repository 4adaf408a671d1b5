"""The pure core: graph model, channels, superstep planning, barrier, run state machine. No I/O."""
