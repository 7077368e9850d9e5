/// Upper bounds the decoder enforces before it allocates anything, so a hostile or corrupt
/// header cannot make it reserve more memory than the limits allow.
///
/// The total size is checked first, on the received frames; every declared count is checked
/// against its limit before any array is allocated, and every array frame must then have
/// exactly the declared length, so a decoded message never occupies much more memory than
/// `maxTotalBytes`. Set the learner socket's `ZMQ_MAXMSGSIZE` to `maxTotalBytes` (plus a
/// little for the routing frame) so the transport drops oversized messages first.
public struct DecodingLimits: Sendable, Hashable {
    /// Bytes in all frames together (routing frame excluded).
    public var maxTotalBytes: Int
    /// Rows in a chunk, and the largest `chunkSteps` a parameters message may ask for.
    public var maxRows: Int
    /// A chunk's observation size and action width, the policy head's size, each layer
    /// width, the normaliser size and the simulator count a parameters message suggests.
    public var maxWidth: Int
    /// Network parameters of a policy.
    public var maxParameters: Int
    /// UTF-8 bytes in one string frame.
    public var maxStringBytes: Int
    /// UTF-8 bytes of a custom model's MJCF text.
    public var maxModelBytes: Int

    public init(maxTotalBytes: Int = 256 << 20, maxRows: Int = 65_536, maxWidth: Int = 65_536,
                maxParameters: Int = 1 << 24, maxStringBytes: Int = 4096, maxModelBytes: Int = 4 << 20) {
        self.maxTotalBytes = maxTotalBytes
        self.maxRows = maxRows
        self.maxWidth = maxWidth
        self.maxParameters = maxParameters
        self.maxStringBytes = maxStringBytes
        self.maxModelBytes = maxModelBytes
    }

    /// 256 MiB per message, 65 536 rows per chunk, widths up to 65 536, 16 Mi network
    /// parameters, 4 KiB strings, 4 MiB models. A chunk of 65 536 rows of Humanoid's 376-wide observations
    /// is about 200 MB, under the total.
    public static let `default` = DecodingLimits()
}
