#!/usr/bin/env bash
# Regenerates Sources/TensorBoard/Event.pb.swift from Sources/TensorBoard/event.proto.
# Run by hand only when the .proto changes; the generated file is committed, so builds need
# neither protoc nor the plugin. Needs protoc (Debian: protobuf-compiler) and protoc-gen-swift
# built from the swift-protobuf version Package.swift names:
#   git clone -b 1.39.0 https://github.com/apple/swift-protobuf.git /tmp/swift-protobuf
#   (cd /tmp/swift-protobuf && swift build -c release --product protoc-gen-swift)
#   PROTOC_GEN_SWIFT=/tmp/swift-protobuf/.build/release/protoc-gen-swift scripts/generate_tensorboard_proto.sh
set -euo pipefail
cd "$(dirname "$0")/.."
plugin=${PROTOC_GEN_SWIFT:-$(command -v protoc-gen-swift || true)}
[[ -x "$plugin" ]] || { echo "error: protoc-gen-swift not found; set PROTOC_GEN_SWIFT (see this script's header)" >&2; exit 2; }
protoc --plugin=protoc-gen-swift="$plugin" --swift_opt=Visibility=Internal \
    --proto_path=Sources/TensorBoard --swift_out=Sources/TensorBoard Sources/TensorBoard/event.proto
mv Sources/TensorBoard/event.pb.swift Sources/TensorBoard/Event.pb.swift
echo "wrote Sources/TensorBoard/Event.pb.swift"
