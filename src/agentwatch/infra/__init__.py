"""Side effects without UI: paths, config, file reading, scanning, prices, logging."""
