/* Shared includes for the DSL twins: C versions of test/dsl twin modules. */
#ifndef TSBPF_DSL_TWINS_H
#define TSBPF_DSL_TWINS_H
#include "../common.h"
#define ETH_P_IP 0x0800
#define ETH_P_8021Q 0x8100
#define IPPROTO_TCP 6
#define IPPROTO_UDP 17
#define XDP_DROP 1
#define XDP_PASS 2
#define XDP_TX 3
#define TC_ACT_OK 0
#define TC_ACT_SHOT 2
#endif
