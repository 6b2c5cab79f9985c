#!/usr/bin/env bash
# Regenerates the synthetic DICOM seeds of fuzz/corpus/{dicom_header,assembly} with
# DCMTK's dump2dcm (no real patient data: every file is a made-up 4x4 CT slice).
# The committed seeds came from this script; run it only to change them.
#   fuzz/make_seeds.sh
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# slice <name> <z> <y-offset> [extra dump lines...]: a 4x4 CT slice as dcmdump text.
slice() {
  local name=$1 z=$2 y=$3; shift 3
  {
    cat <<DUMP
(0002,0001) OB 00\01
(0002,0002) UI =CTImageStorage
(0002,0003) UI [1.2.826.0.1.3680043.10.1109.9.$z]
(0002,0010) UI =LittleEndianExplicit
(0002,0012) UI [1.2.826.0.1.3680043.10.1109.1]
(0008,0005) CS [ISO_IR 100]
(0008,0008) CS [ORIGINAL\\PRIMARY\\AXIAL]
(0008,0016) UI =CTImageStorage
(0008,0018) UI [1.2.826.0.1.3680043.10.1109.9.$z]
(0008,0020) DA [20240102]
(0008,0060) CS [CT]
(0008,103e) LO [Fuzz seed]
(0010,0010) PN [Fuzz^Seed]
(0010,0020) LO [FUZZ1]
(0018,0050) DS [1]
(0020,000d) UI [1.2.826.0.1.3680043.10.1109.2]
(0020,000e) UI [1.2.826.0.1.3680043.10.1109.3]
(0020,0013) IS [$z]
(0020,0032) DS [0\\$y\\$z]
(0020,0037) DS [1\\0\\0\\0\\1\\0]
(0020,0052) UI [1.2.826.0.1.3680043.10.1109.4]
(0028,0002) US 1
(0028,0004) CS [MONOCHROME2]
(0028,0010) US 4
(0028,0011) US 4
(0028,0030) DS [0.5\\0.5]
(0028,0100) US 16
(0028,0101) US 16
(0028,0102) US 15
(0028,0103) US 1
(0028,1052) DS [-1024]
(0028,1053) DS [1]
DUMP
    for line in "$@"; do echo "$line"; done
    echo '(7fe0,0010) OW 0000\0400\0800\0c00\0000\0400\0800\0c00\0000\0400\0800\0c00\0000\0400\0800\0c00'
  } >"$tmp/$name.txt"
  dump2dcm --update-meta-info "$tmp/$name.txt" "$tmp/$name.dcm"
}

slice s0 0 0
slice s1 1 0
slice s2 2 0
slice t1 1 0.5                          # gantry-tilt-like in-plane shift
slice g2 5 0                            # a gap
slice mr 0 0 '(0018,0023) CS [3D]' '(0008,0008) CS [ORIGINAL\\PRIMARY\\M]'
# The same slice without meta header, implicit VR (as some senders write files).
dump2dcm --write-dataset --write-xfer-implicit "$tmp/s0.txt" "$tmp/s0-implicit.dcm" 2>/dev/null ||
  dump2dcm -F -ti "$tmp/s0.txt" "$tmp/s0-implicit.dcm"
dump2dcm --update-meta-info --write-xfer-big "$tmp/s1.txt" "$tmp/s1-big.dcm"

h="$here/corpus/dicom_header"
a="$here/corpus/assembly"
mkdir -p "$h" "$a"
cp "$tmp/s0.dcm" "$h/ct-explicit-le.dcm"
cp "$tmp/s0-implicit.dcm" "$h/ct-implicit-no-meta.dcm"
cp "$tmp/s1-big.dcm" "$h/ct-explicit-be.dcm"
cp "$tmp/mr.dcm" "$h/mr-3d.dcm"
head -c 300 "$tmp/s0.dcm" >"$h/ct-truncated-in-dataset.dcm"
head -c 140 "$tmp/s0.dcm" >"$h/ct-truncated-in-meta.dcm"

sep='VNFUZZ--'
{ cat "$tmp/s0.dcm"; printf %s "$sep"; cat "$tmp/s1.dcm"; printf %s "$sep"; cat "$tmp/s2.dcm"; } >"$a/three-slices.bin"
{ cat "$tmp/s0.dcm"; printf %s "$sep"; cat "$tmp/t1.dcm"; printf %s "$sep"; cat "$tmp/s2.dcm"; } >"$a/tilted.bin"
{ cat "$tmp/s0.dcm"; printf %s "$sep"; cat "$tmp/s1.dcm"; printf %s "$sep"; cat "$tmp/g2.dcm"; } >"$a/gap.bin"
{ cat "$tmp/s0.dcm"; printf %s "$sep"; cat "$tmp/s0.dcm"; } >"$a/same-position.bin"
{ cat "$tmp/s0-implicit.dcm"; printf %s "$sep"; cat "$tmp/s1-big.dcm"; } >"$a/mixed-syntaxes.bin"
cp "$tmp/s0.dcm" "$a/one-slice.bin"
echo "seeds written under $here/corpus"
