"""The pure core: decisions with no I/O, no clock and no environment."""
