#!/usr/bin/env bash
# Prints how an EdgeGateway binary runs its code: "aot" (NativeAOT: machine code only, no JIT) or "jit" (a .NET
# apphost or single-file bundle, plain or ReadyToRun: the JIT writes code at run time).
#   scripts/binary-flavour.sh BINARY
# EDGEGW_FLAVOUR=aot|jit|r2r overrides the detection (r2r counts as jit: ReadyToRun code still needs the JIT).
# Detection: every .NET apphost, and so every single-file bundle, carries the bundle signature
# (8b 12 02 b9 6a 61 20 38 ..., the SHA-256 of ".net core bundle"); a NativeAOT executable has no apphost.
set -euo pipefail
binary="${1:?usage: binary-flavour.sh BINARY}"
case "${EDGEGW_FLAVOUR:-}" in
  aot) echo aot; exit 0 ;;
  jit|r2r) echo jit; exit 0 ;;
  "") ;;
  *) echo "binary-flavour.sh: EDGEGW_FLAVOUR must be aot, jit or r2r, not '$EDGEGW_FLAVOUR'" >&2; exit 2 ;;
esac
if [ ! -f "$binary" ]; then
  echo "binary-flavour.sh: no such file: $binary" >&2
  exit 2
fi
if LC_ALL=C grep -q -a -P '\x8b\x12\x02\xb9\x6a\x61\x20\x38\x72\x7b\x93\x02' "$binary"; then
  echo jit
else
  echo aot
fi
