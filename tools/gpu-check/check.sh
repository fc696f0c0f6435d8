#!/usr/bin/env bash
# The GPU check, in at most 9 minutes on one GPU: device listing, the CUDA variants of the kernel tests (the recurrent ones
# first), a bench grid of layouts (fused, fused-interleaved, group, batched) × P ∈ {1, 64, 1024, 8192} × {NALU 100→2→1,
# NAU→NMU}, a smaller grid of the recurrent configurations, and PyTorch on the same GPU, written into one folder. The GPU host needs no .NET and no network: the bundle (tools/gpu-check/build-bundle.sh)
# carries the runtime, the nalu program and the test assembly.
#
# Usage: tools/gpu-check/check.sh [--dry] [--bundle FILE] [--out DIR]
#   --bundle  default .bundle/nalu-bundle.tar.xz (build it first with tools/gpu-check/build-bundle.sh)
#   --out     default $OUT when set (the device machine's output folder), else results/gpu-check
#   --dry     the same steps on ILGPU's CPU accelerator with tiny sizes: a rehearsal for a machine without a GPU
#   --tests-only  the device listing and the tests, no timings (a rerun after a test fix)
#   --experiment  then `nalu experiment recurrent --quick` on the device (≤ 150 s), its folder as recurrent-quick.tar.gz
#
# On the device machine (from the repository root, the bundle carried): tools/gpu-check/check.sh --out "$OUT"
# At most 8 files are written (what the device tool brings back): host.txt (with the device listing), tests.txt,
# tests-xml.tar.gz (the two runs' xunit XML and every comparison's worst error), grid.json, grid.md, recurrent.md, torch.md, and check.log (all printed).
set -uo pipefail
repo="$(cd "$(dirname "$0")/../.." && pwd)"
dry=0
tests_only=0
experiment=0
bundle="$repo/.bundle/nalu-bundle.tar.xz"
out="${OUT:-$repo/results/gpu-check}"
while [ $# -gt 0 ]; do
  case "$1" in
    --dry) dry=1 ;;
    --tests-only) tests_only=1 ;;
    --experiment) experiment=1 ;;
    --bundle) bundle="$2"; shift ;;
    --out) out="$2"; shift ;;
    *) echo "usage: $0 [--dry] [--tests-only] [--experiment] [--bundle FILE] [--out DIR]" >&2; exit 2 ;;
  esac
  shift
done
[ -f "$bundle" ] || { echo "error: no bundle at $bundle; run tools/gpu-check/build-bundle.sh first" >&2; exit 2; }
mkdir -p "$out"
exec > >(tee "$out/check.log") 2>&1
start=$(date +%s)
stamp() { echo "[$(( $(date +%s) - start )) s] $*"; }

# The sizes. The real check's time budget (9 min): unpack ~10 s, devices ~5 s, recurrent tests ≤ 100 s, the other tests
# ≤ 170 s, grid ≤ 150 s, recurrent grid ≤ 60 s, PyTorch ≤ 60 s.
if [ "$dry" = 1 ]; then
  device=cpu; models="1,3"; rmodels="1,3"; seconds=0.02; repeats=1; rtests_limit=300; tests_limit=300; grid_limit=300; rgrid_limit=300
else
  device=cuda; models="1,64,1024,8192"; rmodels="1,64,1024"; seconds=0.5; repeats=3; rtests_limit=100; tests_limit=170; grid_limit=150; rgrid_limit=60
fi
strategies="fused,fused-interleaved,group,batched"   # a layout this build lacks is reported as skipped, not an error
# The CUDA variants of the kernel tests: every Nalu.Gpu.Tests.Cuda* class (each a DeviceFixture twin of a CPU-accelerator
# class that CI runs, so a new kernel's CUDA class is picked up without editing this script), except CudaBehaviourTests
# (thousands of training steps: a learning check, not a kernel check).
# The recurrent, LSTM and counting (per-step front end) classes run first, on their own, so a slow JIT elsewhere cannot crowd them out.
recurrent_filter=(-class "Nalu.Gpu.Tests.CudaRecurrentTrainingTests" -class "Nalu.Gpu.Tests.CudaLstmKernelTests" -class "Nalu.Gpu.Tests.CudaCountingTests")
test_filter=(-class "Nalu.Gpu.Tests.Cuda*" -class- "Nalu.Gpu.Tests.CudaBehaviourTests"
  -class- "Nalu.Gpu.Tests.CudaRecurrentTrainingTests" -class- "Nalu.Gpu.Tests.CudaLstmKernelTests" -class- "Nalu.Gpu.Tests.CudaCountingTests")

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
stamp "unpacking $bundle"
tar -C "$work" -xJf "$bundle" || { echo "error: cannot unpack the bundle"; exit 1; }
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
nalu() { dotnet "$root/app/nalu.dll" "$@"; }
# Every tolerance comparison of the tests logs its worst error here (Nalu.Gpu.Tests/Tolerance.cs): measured CUDA errors.
export NALU_TOLERANCE_LOG="$work/tolerances.tsv"

{ date -u; uname -a; echo "dry: $dry"; nvidia-smi 2>&1 || echo "nvidia-smi: not available"; } > "$out/host.txt"

stamp "devices"
{ echo; echo "## nalu devices"; nalu devices 2>&1; } | tee -a "$out/host.txt"

stamp "CUDA recurrent and LSTM tests (≤ $rtests_limit s)"
(cd "$root/app" && timeout "$rtests_limit" dotnet Nalu.Gpu.Tests.dll -parallel none -noColor -reporter verbose "${recurrent_filter[@]}" -xml "$work/tests-recurrent.xml") > "$out/tests.txt" 2>&1
echo "recurrent tests exit code: $?" >> "$out/tests.txt"
tail -n 3 "$out/tests.txt"

stamp "CUDA kernel tests (≤ $tests_limit s)"
(cd "$root/app" && timeout "$tests_limit" dotnet Nalu.Gpu.Tests.dll -parallel none -noColor -reporter verbose "${test_filter[@]}" -xml "$work/tests.xml") >> "$out/tests.txt" 2>&1
echo "tests exit code: $?" >> "$out/tests.txt"
tail -n 3 "$out/tests.txt"
tar -C "$work" -czf "$out/tests-xml.tar.gz" $(cd "$work" && ls tests-recurrent.xml tests.xml tolerances.tsv 2>/dev/null)
if [ "$experiment" = 1 ]; then
  stamp "experiment recurrent --quick on $device (≤ 150 s)"
  (cd "$work" && timeout 150 dotnet "$root/app/nalu.dll" experiment recurrent --quick --device "$device" --out "$work/recurrent-quick") 2>&1 | tail -n 25
  echo "experiment exit code: ${PIPESTATUS[0]}"
  tar -C "$work" -czf "$out/recurrent-quick.tar.gz" recurrent-quick
fi
if [ "$tests_only" = 1 ]; then stamp "done (tests only); results in $out"; exit 0; fi

stamp "bench grid (≤ $grid_limit s): $strategies × P ∈ {$models} × {reference, nau-nmu} on $device"
timeout "$grid_limit" dotnet "$root/app/nalu.dll" bench --devices "$device" --no-torch --config reference,nau-nmu --models "$models" \
  --strategy "$strategies" --seconds "$seconds" --repeats "$repeats" --json "$out/grid.json" --markdown "$out/grid.md" 2>&1 | tail -n 60
echo "bench grid exit code: ${PIPESTATUS[0]}"

stamp "recurrent grid (≤ $rgrid_limit s): fused,group,batched × P ∈ {$rmodels} × {NALU cell, NAC cell}, T = 10, on $device"
timeout "$rgrid_limit" dotnet "$root/app/nalu.dll" bench --devices "$device" --no-torch --config recurrent,recurrent-nac --models "$rmodels" \
  --strategy fused,group,batched --seconds "$seconds" --repeats 2 --markdown "$out/recurrent.md" 2>&1 | tail -n 30
echo "recurrent grid exit code: ${PIPESTATUS[0]}"

if [ "$dry" = 0 ]; then
  # PyTorch on the same GPU, for the ratios (python3 there holds PyTorch); the Auto layout only.
  stamp "PyTorch peers (≤ 90 s)"
  python="$(command -v python3 || echo /usr/bin/python3)"
  (cd "$root" && timeout 90 dotnet app/nalu.dll bench --devices cuda --config reference,population,nau-nmu-population,recurrent,recurrent-population \
    --python "$python" --torch-script "$root/tools/torch/nalu_bench.py" --seconds 0.5 --repeats 3 --markdown "$out/torch.md") 2>&1 | tail -n 20
fi
stamp "done; results in $out"
