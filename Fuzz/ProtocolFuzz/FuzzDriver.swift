#if FUZZING
import Glibc

/// libFuzzer's driver (in the runtime `-sanitize=fuzzer` links). SwiftPM renames an
/// executable's entry point to `ProtocolFuzz_main` and aliases `main` to it, which hides
/// libFuzzer's own `main`, so this entry point starts the driver itself.
@_extern(c, "LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(
    _ argc: UnsafeMutablePointer<CInt>,
    _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>>,
    _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt
) -> CInt

@main struct FuzzDriver {
    static func main() {
        var argc = CommandLine.argc
        var argv = CommandLine.unsafeArgv
        exit(LLVMFuzzerRunDriver(&argc, &argv, fuzzOne))
    }
}
#endif
