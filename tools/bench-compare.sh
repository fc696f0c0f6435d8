#!/usr/bin/env bash
# A/B two builds of nalu in one sitting: tools/bench-compare.sh [options] REF [CONFIGS]
#
# Builds commit REF into a temporary git worktree and the working tree as it is (uncommitted changes included; or
# --new REV, a second commit, into a second worktree), then runs `nalu bench` for each configuration with both
# builds alternately, ABBA order per round (REF, new, new, REF, …), so a drift of the machine's speed (another job,
# thermal state) lands on both sides. Prints, per configuration, each side's median model-steps/s with its min–max,
# and the median of the per-round ratios new/REF with their min–max. Timings never go into the test suite: this is
# the tool every change to the kernels, the native path or the trainer is checked with before it lands
# (docs/performance.md).
#
#   REF       a commit, branch or tag (e.g. HEAD, HEAD~1, 0b7134a)
#   CONFIGS   nalu bench --config names, comma separated (default: reference,large-batch,population).
#             A configuration that one build does not know is reported and skipped.
# Options:
#   --new REV       compare against commit REV instead of the working tree
#   --rounds N      alternating rounds (default 3; each round runs each build twice)
#   --seconds S     nalu bench --seconds per timed repeat (default 2)
#   --repeats N     nalu bench --repeats (default 3; each run reports its median)
#   --devices D     nalu bench --devices (default native)
#   --json FILE     also write every run's measurements as JSON lines to FILE
#   --keep          keep the temporary worktrees (their paths are printed)
set -euo pipefail

usage() { sed -n '2,22p' "$0" | sed 's/^# \{0,1\}//'; }
rounds=3 seconds=2 repeats=3 devices=native new="" json="" keep=0
args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --new) new=${2:?--new needs a commit}; shift 2 ;;
    --rounds) rounds=${2:?--rounds needs a number}; shift 2 ;;
    --seconds) seconds=${2:?--seconds needs a number}; shift 2 ;;
    --repeats) repeats=${2:?--repeats needs a number}; shift 2 ;;
    --devices) devices=${2:?--devices needs a list}; shift 2 ;;
    --json) json=${2:?--json needs a file}; shift 2 ;;
    --keep) keep=1; shift ;;
    -h|--help) usage; exit 0 ;;
    -*) echo "error: unknown option '$1'" >&2; usage >&2; exit 2 ;;
    *) args+=("$1"); shift ;;
  esac
done
if [ ${#args[@]} -lt 1 ] || [ ${#args[@]} -gt 2 ]; then
  echo "error: give REF and optionally CONFIGS" >&2; usage >&2; exit 2
fi
case "$rounds" in ''|*[!0-9]*|0) echo "error: --rounds '$rounds' must be a whole number ≥ 1" >&2; exit 2 ;; esac
for tool in git dotnet jq; do
  command -v "$tool" >/dev/null 2>&1 || { echo "error: $tool is not on PATH" >&2; exit 2; }
done

cd "$(git rev-parse --show-toplevel)"
ref_rev=$(git rev-parse --verify --quiet "${args[0]}^{commit}") || { echo "error: '${args[0]}' is not a commit here" >&2; exit 2; }
configs=${args[1]:-reference,large-batch,population}
if [ -n "$new" ]; then
  new_rev=$(git rev-parse --verify --quiet "$new^{commit}") || { echo "error: --new '$new' is not a commit here" >&2; exit 2; }
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/bench-compare.XXXXXX")
cleanup() {
  if [ "$keep" = 1 ]; then echo "kept: $tmp"; return; fi
  git worktree remove --force "$tmp/ref" >/dev/null 2>&1 || true
  git worktree remove --force "$tmp/new" >/dev/null 2>&1 || true
  rm -rf "$tmp"
}
trap cleanup EXIT
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1

build() { # build DIR LABEL: a Release build of the CLI in DIR; prints the dll path
  echo "building $2 in $1 …" >&2
  if ! dotnet build "$1/Nalu.Gpu.Bench" -c Release -nologo -v quiet >"$tmp/build-$2.log" 2>&1; then
    echo "error: the build of $2 failed; its log:" >&2; tail -n 30 "$tmp/build-$2.log" >&2; exit 1
  fi
  echo "$1/Nalu.Gpu.Bench/bin/Release/net10.0/nalu.dll"
}

git worktree add --detach "$tmp/ref" "$ref_rev" >/dev/null 2>&1
ref_dll=$(build "$tmp/ref" "ref")
if [ -n "$new" ]; then
  git worktree add --detach "$tmp/new" "$new_rev" >/dev/null 2>&1
  new_dll=$(build "$tmp/new" "new")
  new_label=$(git rev-parse --short "$new_rev")
else
  new_dll=$(build "$PWD" "new")
  new_label="working tree"
  [ -z "$(git status --porcelain --untracked-files=no)" ] || new_label="working tree (uncommitted changes)"
fi
ref_label=$(git rev-parse --short "$ref_rev")

measure() { # measure DLL CONFIG: prints model-steps/s, or nothing when the build cannot run the configuration
  local out="$tmp/run.json"
  rm -f "$out"
  if ! dotnet "$1" bench --config "$2" --devices "$devices" --no-torch --repeats "$repeats" --seconds "$seconds" \
      --json "$out" >"$tmp/run.log" 2>&1; then
    return 0
  fi
  jq -r '.[0].modelStepsPerSecond // empty' "$out"
}

echo "A/B: REF $ref_label against NEW $new_label; nalu bench --devices $devices --repeats $repeats --seconds $seconds;" \
  "$rounds round(s) of ABBA per configuration; $(nproc) cores" >&2
[ -z "$json" ] || : >"$json"
summary="$tmp/summary.tsv"
stats() { # median, min and max of the arguments, tab-separated
  printf '%s\n' "$@" | sort -g | awk '{v[NR] = $1} END {m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2; printf "%s\t%s\t%s", m, v[1], v[NR]}'
}
: >"$summary"
IFS=',' read -r -a config_list <<<"$configs"
for config in "${config_list[@]}"; do
  refs=() news=() ratios=() skipped=""
  for ((r = 1; r <= rounds; r++)); do
    for side in ref new new ref; do
      dll=$ref_dll; [ "$side" = new ] && dll=$new_dll
      rate=$(measure "$dll" "$config")
      if [ -z "$rate" ]; then skipped="$side build: $(tail -n 1 "$tmp/run.log")"; break 2; fi
      echo "  $config round $r $side: $(printf '%.0f' "$rate") model-steps/s" >&2
      if [ "$side" = ref ]; then refs+=("$rate"); else news+=("$rate"); fi
      [ -z "$json" ] || jq -cn --arg c "$config" --arg s "$side" --argjson r "$r" --argjson v "$rate" \
        --arg ref "$ref_label" --arg new "$new_label" '{config:$c, side:$s, round:$r, modelStepsPerSecond:$v, ref:$ref, new:$new}' >>"$json"
    done
    # The round's ratio: both of its new runs against both of its REF runs.
    n=${#news[@]}
    ratios+=("$(echo "${news[n-2]} ${news[n-1]} ${refs[n-2]} ${refs[n-1]}" | awk '{print ($1 + $2) / ($3 + $4)}')")
  done
  if [ -n "$skipped" ]; then
    printf '%s\tskipped\t%s\n' "$config" "$skipped" >>"$summary"
    continue
  fi
  printf '%s\t%s\t%s\t%s\n' "$config" "$(stats "${refs[@]}")" "$(stats "${news[@]}")" "$(stats "${ratios[@]}")" >>"$summary"
done

echo
echo "REF = $ref_label, NEW = $new_label ($devices; model-steps/s, median [min–max] over $((2 * rounds)) runs each; ratio = NEW/REF per round)"
printf '%-20s %-28s %-28s %s\n' configuration REF NEW "NEW/REF"
while IFS=$'\t' read -r config a b c d e f g h i; do
  if [ "$a" = skipped ]; then printf '%-20s skipped (%s)\n' "$config" "$b"; continue; fi
  printf '%-20s %-28s %-28s %s\n' "$config" \
    "$(printf '%.0f [%.0f-%.0f]' "$a" "$b" "$c")" "$(printf '%.0f [%.0f-%.0f]' "$d" "$e" "$f")" \
    "$(printf '%.3fx [%.3f-%.3f]' "$g" "$h" "$i")"
done <"$summary"
