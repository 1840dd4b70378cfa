/* Shared includes for the bpf-tests objects. */
#ifndef TSBPF_TESTS_COMMON_H
#define TSBPF_TESTS_COMMON_H
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_endian.h>
#endif
