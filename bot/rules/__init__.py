"""What changed and who hears about it: detection, watches, channel filters and routing. Pure: no I/O."""
