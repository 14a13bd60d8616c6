"""One module per agent: where its files live and how to parse them (bytes in, records out)."""
