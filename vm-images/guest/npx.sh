#!/bin/sh
# A small stand-in for npx in the dev VM (npm itself is not in the image):
# `npx tsbpf ...` runs this project's CLI, `npx <tool>` a node_modules/.bin entry.
root=/work/tsbpf
[ "$1" = "--yes" ] || [ "$1" = "-y" ] && shift
name="$1"
[ -n "$name" ] || { echo "npx: which command?" >&2; exit 2; }
shift
if [ "$name" = tsbpf ]; then
  # The .js twins of src/ are transpiled from this checkout at boot time, so they are never stale;
  # dist/ is used only without them, and tsx (slow under emulation) only as the last resort.
  if [ -f "$root/src/cli/bin.js" ]; then exec node --enable-source-maps "$root/src/cli/bin.js" "$@"; fi
  if [ -f "$root/dist/cli/bin.js" ]; then exec node "$root/dist/cli/bin.js" "$@"; fi
  exec node --import tsx "$root/src/cli/bin.ts" "$@"
fi
if [ -x "$root/node_modules/.bin/$name" ]; then
  exec "$root/node_modules/.bin/$name" "$@"
fi
echo "npx: '$name' is not in the dev VM image (only tsbpf and node_modules/.bin tools are)" >&2
exit 127
