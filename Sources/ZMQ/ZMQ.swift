// The ZMQ module: a typed Swift layer over libzmq.
