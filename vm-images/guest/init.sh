#!/bin/sh
# PID 1 of a tsbpf dev VM (busybox sh). Mounts what BPF programs and the tests
# expect, loads the modules the image carries, runs the one command the host
# asked for, reports its exit status on the control port (/dev/ttyS1, a file
# on the host) and the console, and powers off. If this script ever exits the
# kernel panics and, booted with panic=-1 under -no-reboot, qemu exits too.
export PATH=/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export HOME=/root
export TERM="${TERM:-linux}"

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
mkdir -p /dev/pts /dev/shm /tmp /run /root
chmod 1777 /tmp
mount -t devpts devpts /dev/pts
mount -t tmpfs tmpfs /dev/shm
mount -t tmpfs tmpfs /run
mount -t tracefs tracefs /sys/kernel/tracing
mount -t debugfs debugfs /sys/kernel/debug
mount -t bpf bpffs /sys/fs/bpf
mount -t cgroup2 cgroup2 /sys/fs/cgroup

control=/dev/ttyS1
stty -F "$control" raw -echo 2>/dev/null
report() { echo "$*" >"$control"; }
uptime_s() { cut -d' ' -f1 /proc/uptime; }

hostname tsbpf-vm
ip link set lo up
# No module loading on demand: everything the image carries is loaded now.
echo /bin/true >/proc/sys/kernel/modprobe
release="$(uname -r)"
if [ -f "/lib/modules/$release/tsbpf/load-order" ]; then
  for m in $(cat "/lib/modules/$release/tsbpf/load-order"); do
    insmod "/lib/modules/$release/tsbpf/$m.ko" || echo "vm: insmod $m failed" >&2
  done
fi

[ -f /tsbpf-vm/env ] && . /tsbpf-vm/env
cd "${TSBPF_VM_CWD:-/}"
report "TSBPF-VM-READY uptime=$(uptime_s) kernel=$release"
if [ "$TSBPF_VM_MODE" = shell ]; then
  echo "tsbpf dev VM, kernel $release. 'exit' or Ctrl-D powers off; Ctrl-A X quits qemu."
  setsid cttyhack sh -l
  status=$?
else
  sh /tsbpf-vm/cmd
  status=$?
fi
report "TSBPF-VM-EXIT=$status uptime=$(uptime_s)"
echo "TSBPF-VM-EXIT=$status"
sync
poweroff -f
sleep 5
