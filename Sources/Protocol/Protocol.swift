// The Protocol module: trpo's message set and binary codec.
