#!/usr/bin/env bash
# Builds the GPU-check bundle: the .NET runtime (no SDK) plus framework-dependent builds of the
# `nalu` program and the test suite, compressed with xz into one file of at most 64 MiB, so a GPU
# host without .NET can run the device check (tools/gpu-check/run.sh).
# Usage: tools/gpu-check/build-bundle.sh [out-dir]   (default: .bundle/ at the repo root, git-ignored)
set -euo pipefail
repo="$(cd "$(dirname "$0")/../.." && pwd)"
out="${1:-$repo/.bundle}"
stage="$(mktemp -d)"
trap 'rm -rf "$stage"' EXIT

dotnet_root="$(dirname "$(readlink -f "$(command -v dotnet)")")"
runtime_dir="$(ls -d "$dotnet_root"/shared/Microsoft.NETCore.App/10.* | sort -V | tail -n 1)"
fxr_dir="$(ls -d "$dotnet_root"/host/fxr/10.* | sort -V | tail -n 1)"

# The test project references the nalu program, so one publish holds both (nalu.dll and Nalu.Gpu.Tests.dll),
# and their shared dependencies are stored once. linux-x64 only keeps other platforms' native libraries out.
echo "Publishing the nalu program and the tests (Release, framework-dependent, linux-x64)…"
dotnet publish "$repo/Nalu.Gpu.Tests/Nalu.Gpu.Tests.csproj" -c Release -r linux-x64 --self-contained false \
  -p:SatelliteResourceLanguages=en -p:DebugType=none -o "$stage/nalu/app" --nologo -v quiet

echo "Adding the runtime from $runtime_dir…"
mkdir -p "$stage/nalu/dotnet/shared/Microsoft.NETCore.App" "$stage/nalu/dotnet/host/fxr"
cp "$dotnet_root/dotnet" "$stage/nalu/dotnet/"
cp -r "$runtime_dir" "$stage/nalu/dotnet/shared/Microsoft.NETCore.App/"
cp -r "$fxr_dir" "$stage/nalu/dotnet/host/fxr/"
mkdir -p "$stage/nalu/tools/torch"
cp "$repo/tools/torch/nalu_bench.py" "$stage/nalu/tools/torch/"
cp "$repo/tools/gpu-check/run.sh" "$stage/nalu/"

mkdir -p "$out"
echo "Compressing…"
tar -C "$stage" -cf - nalu | xz -T0 -6 > "$out/nalu-bundle.tar.xz"
size=$(stat -c %s "$out/nalu-bundle.tar.xz")
echo "Bundle: $out/nalu-bundle.tar.xz ($((size / 1024 / 1024)) MiB)"
if [ "$size" -gt $((64 * 1024 * 1024)) ]; then
  echo "error: the bundle exceeds 64 MiB" >&2
  exit 1
fi
