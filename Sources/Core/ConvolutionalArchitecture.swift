/// The shape of one image, stored channels-last: pixel (y, x), channel c is element
/// `(y · width + x) · channels + c` of the image's row-major values (`height × width × channels`,
/// "HWC"; a batch holds one image per row).
public struct ImageShape: Sendable, Codable, Hashable {
    public var height: Int
    public var width: Int
    public var channels: Int

    public init(height: Int, width: Int, channels: Int) {
        self.height = height
        self.width = width
        self.channels = channels
    }

    /// Values per image: `height · width · channels`.
    public var count: Int { height * width * channels }

    /// Four stacked 84×84 grey frames, the Atari input of Mnih et al. (2013), which the TRPO
    /// paper's Atari experiments follow (§8.2).
    public static let atariFrames = ImageShape(height: 84, width: 84, channels: 4)
}

/// One convolutional layer's hyperparameters: `filters` square `kernel × kernel` filters moved
/// by `stride` pixels in both directions, without padding ("valid": only positions where the
/// whole kernel lies inside the image), followed by the network's activation.
public struct ConvolutionSpec: Sendable, Codable, Hashable {
    public var filters: Int
    public var kernel: Int
    public var stride: Int

    public init(filters: Int, kernel: Int, stride: Int) {
        self.filters = filters
        self.kernel = kernel
        self.stride = stride
    }
}

/// A convolutional trunk: convolutional layers on an image, its last feature map flattened
/// (channels-last, as stored), fully connected hidden layers, then a linear output layer whose
/// width the network's user (a policy head, a value function) chooses.
///
/// Presets, all on ``ImageShape/atariFrames`` with ReLU:
///
/// | preset | convolutions | dense | parameters (+ output layer of width A) |
/// |---|---|---|---|
/// | ``paperAtari`` | 16 × 4×4 stride 2, 16 × 4×4 stride 2 | 20 | 120,692 + 21·A |
/// | ``cnnSmall`` | 8 × 8×8 stride 4, 16 × 4×4 stride 2 | 128 | 170,136 + 129·A |
/// | ``dqn2013`` | 16 × 8×8 stride 4, 32 × 4×4 stride 2 | 256 | 676,144 + 257·A |
public struct ConvolutionalArchitecture: Sendable, Codable, Hashable {
    /// The most convolutional layers a trunk may have (a bound for decoders, far above the
    /// presets' two).
    public static let maxConvolutions = 8

    public var input: ImageShape
    public var convolutions: [ConvolutionSpec]
    /// Widths of the fully connected hidden layers after the flattened feature map.
    public var hiddenSizes: [Int]
    /// The nonlinearity after every convolution and every hidden dense layer.
    public var activation: Activation

    public init(input: ImageShape, convolutions: [ConvolutionSpec], hiddenSizes: [Int], activation: Activation) {
        self.input = input
        self.convolutions = convolutions
        self.hiddenSizes = hiddenSizes
        self.activation = activation
    }

    /// The network of the TRPO paper's Atari experiments (§8.2 and Figure 3): two convolutional
    /// layers of 16 filters, 4×4 (Figure 3's labels), stride 2, then one hidden layer of 20 units.
    ///
    /// What the paper leaves open is our choice: the input (84×84×4, the Mnih et al. 2013
    /// preprocessing the paper says it follows), the padding (valid) and the activation (ReLU,
    /// as Mnih et al.). With these the network has 120,692 + 21·A parameters, not the 33,500
    /// the paper reports (Table 3); no input size and padding consistent with the text give
    /// 33,500, so the count could not be reproduced.
    public static let paperAtari = ConvolutionalArchitecture(
        input: .atariFrames,
        convolutions: [ConvolutionSpec(filters: 16, kernel: 4, stride: 2), ConvolutionSpec(filters: 16, kernel: 4, stride: 2)],
        hiddenSizes: [20], activation: .relu)

    /// OpenAI Baselines' `cnn_small` (`baselines/common/models.py`): 8 filters 8×8 stride 4,
    /// 16 filters 4×4 stride 2, a dense layer of 128, ReLU throughout, valid padding.
    public static let cnnSmall = ConvolutionalArchitecture(
        input: .atariFrames,
        convolutions: [ConvolutionSpec(filters: 8, kernel: 8, stride: 4), ConvolutionSpec(filters: 16, kernel: 4, stride: 2)],
        hiddenSizes: [128], activation: .relu)

    /// The network of Mnih et al. (2013), "Playing Atari with deep reinforcement learning":
    /// 16 filters 8×8 stride 4, 32 filters 4×4 stride 2, a dense layer of 256, ReLU.
    public static let dqn2013 = ConvolutionalArchitecture(
        input: .atariFrames,
        convolutions: [ConvolutionSpec(filters: 16, kernel: 8, stride: 4), ConvolutionSpec(filters: 32, kernel: 4, stride: 2)],
        hiddenSizes: [256], activation: .relu)

    /// True when every size is positive, there is at least one convolution, and every kernel
    /// fits inside the feature map it slides over.
    public var isValid: Bool {
        guard input.height > 0, input.width > 0, input.channels > 0, !convolutions.isEmpty,
              hiddenSizes.allSatisfy({ $0 > 0 })
        else { return false }
        var shape = input
        for c in convolutions {
            guard c.filters > 0, c.kernel > 0, c.stride > 0, c.kernel <= shape.height, c.kernel <= shape.width
            else { return false }
            shape = ConvolutionGeometry(input: shape, spec: c).output
        }
        return true
    }
}
