/// The geometry of one convolutional layer and its patch matrix ("im2col").
///
/// A valid convolution of an `H × W × C` image by `F` filters of `k × k` with stride `s` has
/// `(H − k) / s + 1` rows and `(W − k) / s + 1` columns of output positions (rounded down).
/// The *patch matrix* of a batch of images has one row per (image, output position), in the
/// images' order and then row-major over positions, and `k · k · C` columns: the pixels under
/// the kernel, ordered (ky, kx, c). In channels-last storage the `k · C` values of one kernel
/// row are contiguous in the image, so a patch row is `k` contiguous copies. With the layer's
/// weights as a `[k·k·C × F]` row-major block (TensorFlow's `[k, k, C, F]` filter layout
/// flattened), the convolution of the batch is one product, `patches · W`, whose rows are the
/// output images channels-last, one after the other.
public struct ConvolutionGeometry: Sendable, Hashable {
    public let input: ImageShape
    public let kernel: Int
    public let stride: Int
    /// The output feature map: positions × `filters` channels.
    public let output: ImageShape

    public init(input: ImageShape, spec: ConvolutionSpec) {
        self.input = input
        kernel = spec.kernel
        stride = spec.stride
        output = ImageShape(height: (input.height - spec.kernel) / spec.stride + 1,
                            width: (input.width - spec.kernel) / spec.stride + 1, channels: spec.filters)
    }

    public var filters: Int { output.channels }
    /// Output positions per image.
    public var positions: Int { output.height * output.width }
    /// Columns of the patch matrix and rows of the weight block: `k · k · C`.
    public var patchWidth: Int { kernel * kernel * input.channels }
    /// Weights and biases of the layer.
    public var parameterCount: Int { patchWidth * filters + filters }

    /// Writes the patch matrix of `images` consecutive images at `source` (each `input.count`
    /// values) into `patches` (`images · positions × patchWidth`), converting each value by
    /// `convert` (the uint8 → [0, 1] scaling of frames, or the identity).
    @inline(__always)
    func gatherPatches<E, S>(from source: UnsafePointer<E>, images: Int, into patches: UnsafeMutablePointer<S>,
                             convert: (E) -> S) {
        let (rowLength, span) = (kernel &* input.channels, input.width &* input.channels)
        var destination = patches
        for image in 0..<images {
            let x = source + image &* input.count
            for oy in 0..<output.height {
                for ox in 0..<output.width {
                    var segment = x + (oy &* stride) &* span + (ox &* stride) &* input.channels
                    for _ in 0..<kernel {
                        for i in 0..<rowLength { destination[i] = convert(segment[i]) }
                        destination += rowLength
                        segment += span
                    }
                }
            }
        }
    }

    /// The adjoint of ``gatherPatches(from:images:into:convert:)``: adds every patch-matrix
    /// entry to the image value it was copied from ("col2im"). `images` must be zeroed first
    /// when the result should be the adjoint alone.
    @inline(__always)
    func scatterPatches<S: BLASScalar>(_ patches: UnsafePointer<S>, images: Int, into target: UnsafeMutablePointer<S>) {
        let (rowLength, span) = (kernel &* input.channels, input.width &* input.channels)
        var source = patches
        for image in 0..<images {
            let x = target + image &* input.count
            for oy in 0..<output.height {
                for ox in 0..<output.width {
                    var segment = x + (oy &* stride) &* span + (ox &* stride) &* input.channels
                    for _ in 0..<kernel {
                        for i in 0..<rowLength { segment[i] += source[i] }
                        source += rowLength
                        segment += span
                    }
                }
            }
        }
    }
}
