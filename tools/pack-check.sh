#!/usr/bin/env bash
# Packs Nalu.Gpu.Kernels and Nalu.Gpu into a temporary local feed with a unique version (0.x.y-packcheck.…), so no
# NuGet cache can serve an older build under the same version, then restores tests/PackageConsumer against that feed
# plus the feeds NuGet is already configured with, builds it and runs it: the README's embedding example on ILGPU's
# CPU accelerator, which exits non-zero when the NAC does not learn a + b. Also checks what each package carries
# (readme, XML docs, licence, symbols). Removes the feed, the consumer's copy and the packages it put into the
# global packages folder. Run from anywhere; .ci/run runs it after the tests. About a minute on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
start=$SECONDS

work=$(mktemp -d "${TMPDIR:-/tmp}/nalu-pack-check.XXXXXX")
feed=$work/feed
suffix="packcheck.$(date -u +%Y%m%d%H%M%S).$$"
packages_dir=${NUGET_PACKAGES:-$HOME/.nuget/packages}
version=
cleanup() {
  rm -rf "$work"
  if [[ -n $version ]]; then
    rm -rf "$packages_dir/nalu.gpu/$version" "$packages_dir/nalu.gpu.kernels/$version"
    rmdir "$packages_dir/nalu.gpu" "$packages_dir/nalu.gpu.kernels" 2>/dev/null || true
  fi
}
trap cleanup EXIT

echo "== pack-check: building Nalu.Gpu (Release)"
dotnet build Nalu.Gpu/Nalu.Gpu.csproj -c Release -v q -nologo -clp:NoSummary
for project in Nalu.Gpu.Kernels Nalu.Gpu; do
  echo "== pack-check: packing $project with version suffix $suffix"
  dotnet pack "$project/$project.csproj" -c Release --no-build --no-restore -v q -nologo -o "$feed" -p:VersionSuffix="$suffix"
done

nupkg=$(ls "$feed"/Nalu.Gpu.[0-9]*.nupkg)
version=$(basename "$nupkg" .nupkg); version=${version#Nalu.Gpu.}
echo "== pack-check: packed version $version:"
ls -l "$feed"

fail() { echo "pack-check: FAILED: $*" >&2; exit 1; }
# A .nupkg is a zip; python3's zipfile reads it (unzip is not on every machine).
zip_list() { python3 -c 'import sys, zipfile; print("\n".join(zipfile.ZipFile(sys.argv[1]).namelist()))' "$1"; }
zip_read() { python3 -c 'import sys, zipfile; sys.stdout.write(zipfile.ZipFile(sys.argv[1]).read(sys.argv[2]).decode("utf-8-sig"))' "$1" "$2"; }
for id in Nalu.Gpu.Kernels Nalu.Gpu; do
  pkg=$feed/$id.$version.nupkg
  [[ -f $pkg ]] || fail "$pkg was not produced"
  [[ -f $feed/$id.$version.snupkg ]] || fail "no symbol package $id.$version.snupkg"
  listing=$(zip_list "$pkg")
  for entry in README.md "lib/net10.0/$id.dll" "lib/net10.0/$id.xml"; do
    grep -qxF "$entry" <<<"$listing" || fail "$id.$version.nupkg lacks $entry"
  done
  grep -qxF "lib/net10.0/$id.pdb" <<<"$(zip_list "$feed/$id.$version.snupkg")" || fail "$id.$version.snupkg lacks $id.pdb"
  nuspec=$(zip_read "$pkg" "$id.nuspec")
  for field in '<license type="expression">MIT</license>' '<readme>README.md</readme>' "<version>$version</version>" '<tags>' '<description>'; do
    grep -qF "$field" <<<"$nuspec" || fail "$id.nuspec lacks $field"
  done
done
grep -qF "<dependency id=\"Nalu.Gpu.Kernels\" version=\"$version\"" <<<"$(zip_read "$feed/Nalu.Gpu.$version.nupkg" Nalu.Gpu.nuspec)" \
  || fail "Nalu.Gpu $version does not depend on Nalu.Gpu.Kernels $version"

# The consumer is copied out of the repository so that nothing of the repository's (Directory.Build.props, project
# references, build outputs) can stand in for the package. Its NuGet.config only adds the local feed: the feeds of
# the user's and the machine's NuGet configuration still apply, for ILGPU and the other dependencies.
cp -r "$repo/tests/PackageConsumer" "$work/consumer"
rm -rf "$work/consumer/bin" "$work/consumer/obj"
cp "$repo/global.json" "$work/global.json"
cat > "$work/NuGet.config" <<XML
<?xml version="1.0" encoding="utf-8"?>
<configuration>
  <packageSources>
    <add key="nalu-pack-check" value="$feed" />
  </packageSources>
</configuration>
XML

echo "== pack-check: building tests/PackageConsumer against Nalu.Gpu $version from the local feed"
dotnet build "$work/consumer/PackageConsumer.csproj" -c Release -v q -nologo -clp:NoSummary -p:NaluGpuVersion="$version"
grep -q "\"Nalu.Gpu/$version\"" "$work/consumer/obj/project.assets.json" || fail "the consumer did not restore Nalu.Gpu $version"
echo "== pack-check: running it"
dotnet "$work/consumer/bin/Release/net10.0/PackageConsumer.dll"
echo "pack-check: OK (Nalu.Gpu $version) in $((SECONDS - start)) s"
