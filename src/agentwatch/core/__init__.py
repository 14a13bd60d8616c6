"""Pure domain: token arithmetic, records, dedup and tallies. No I/O, no clock reads."""
