#!/usr/bin/env bash
# The device check, for a GPU host with no .NET: unpack the bundle, list devices, run the test suite
# (CUDA variants run where a GPU exists), run the throughput bench against PyTorch on the same device,
# and write everything into one folder.
# Usage: run.sh <bundle.tar.xz> <results-dir> [bench-seconds]
# Rehearse on a CPU machine: the same steps run, with CUDA tests skipped and the bench on the CPU.
set -uo pipefail
bundle="$1"; results="$2"; seconds="${3:-2}"
mkdir -p "$results"
work="$(mktemp -d)"
tar -C "$work" -xJf "$bundle"
root="$work/nalu"
export DOTNET_ROOT="$root/dotnet" PATH="$root/dotnet:$PATH" DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1

# ILGPU loads 'libcuda.so'; some hosts only have 'libcuda.so.1'.
if ! ldconfig -p 2>/dev/null | grep -q 'libcuda.so '; then
  real="$(ldconfig -p 2>/dev/null | awk '/libcuda.so.1 /{print $NF; exit}')"
  [ -z "$real" ] && real="$(ls /usr/lib/x86_64-linux-gnu/libcuda.so.1 /usr/local/nvidia/lib64/libcuda.so.1 2>/dev/null | head -n 1)"
  if [ -n "$real" ]; then
    mkdir -p "$work/lib" && ln -sf "$real" "$work/lib/libcuda.so"
    export LD_LIBRARY_PATH="$work/lib:${LD_LIBRARY_PATH:-}"
  fi
fi

{ date -u; uname -a; nvidia-smi 2>&1 || echo "nvidia-smi: not available"; } > "$results/host.txt"

echo "== devices"
dotnet "$root/app/nalu.dll" devices 2>&1 | tee "$results/devices.txt"
dotnet "$root/app/nalu.dll" devices --json > "$results/devices.json" 2>&1

echo "== tests"
(cd "$root/app" && timeout 900 dotnet Nalu.Gpu.Tests.dll -parallel none -xml "$results/tests.xml") > "$results/tests.txt" 2>&1
echo "tests exit code: $?" | tee -a "$results/tests.txt"
tail -n 5 "$results/tests.txt"

echo "== bench"
python="/usr/bin/python3"; command -v "$python" >/dev/null || python="$(command -v python3 || echo /usr/bin/python3)"
(cd "$root" && timeout 900 dotnet app/nalu.dll bench --seconds "$seconds" --python "$python" --json "$results/bench.json") 2>&1 | tee "$results/bench.txt"
rm -rf "$work"
echo "Results in $results"
