#!/bin/sh
# A small stand-in for npx in the dev VM (npm itself is not in the image):
# `npx tsbpf ...` runs this project's CLI, `npx <tool>` a node_modules/.bin entry.
root=/work/tsbpf
[ "$1" = "--yes" ] || [ "$1" = "-y" ] && shift
name="$1"
[ -n "$name" ] || { echo "npx: which command?" >&2; exit 2; }
shift
if [ "$name" = tsbpf ]; then
  if [ -f "$root/dist/cli/bin.js" ] && [ "${TSBPF_VM_USE_SRC:-0}" != 1 ]; then
    exec node "$root/dist/cli/bin.js" "$@"
  fi
  exec node --import tsx "$root/src/cli/bin.ts" "$@"
fi
if [ -x "$root/node_modules/.bin/$name" ]; then
  exec "$root/node_modules/.bin/$name" "$@"
fi
echo "npx: '$name' is not in the dev VM image (only tsbpf and node_modules/.bin tools are)" >&2
exit 127
