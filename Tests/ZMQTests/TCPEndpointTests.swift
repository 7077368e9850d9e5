import Testing
import ZMQ

@Suite struct TCPEndpointTests {
    @Test func splitsAsLibzmqDoes() {
        #expect(TCPEndpoint("tcp://127.0.0.1:5555") == TCPEndpoint(source: nil, host: "127.0.0.1", isBracketed: false, port: "5555"))
        #expect(TCPEndpoint("tcp://*:0") == TCPEndpoint(source: nil, host: "*", isBracketed: false, port: "0"))
        #expect(TCPEndpoint("tcp://[::1]:9100") == TCPEndpoint(source: nil, host: "::1", isBracketed: true, port: "9100"))
        // Without brackets the port is what follows the last colon, as in libzmq.
        #expect(TCPEndpoint("tcp://::1:5555") == TCPEndpoint(source: nil, host: "::1", isBracketed: false, port: "5555"))
        #expect(TCPEndpoint("tcp://10.0.0.2;learner:5555") == TCPEndpoint(source: "10.0.0.2", host: "learner", isBracketed: false, port: "5555"))
        // Parts are as written: checking them is the caller's.
        #expect(TCPEndpoint("tcp://:x") == TCPEndpoint(source: nil, host: "", isBracketed: false, port: "x"))
        #expect(TCPEndpoint("tcp://[]:1")?.isBracketed == false)
    }

    @Test func refusesWhatIsNotATCPEndpointWithAPort() {
        for text in ["ipc:///tmp/x", "tcp://host", "tcp://", "udp://h:1", "TCP://h:1", "127.0.0.1:5555"] {
            #expect(TCPEndpoint(text) == nil, "\(text)")
        }
    }
}
