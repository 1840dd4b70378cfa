/*
 * Anchor for bench/ringbuf.ts: libbpf's ring_buffer__consume on 64-byte
 * events produced in the kernel. The producing program is the same XDP
 * program tsbpf uses, handed over as raw instructions (argv[1]) whose map
 * loads carry placeholder fds (SEQ_PLACEHOLDER, RING_PLACEHOLDER) patched
 * here. Each round fills the ring with BPF_PROG_TEST_RUN (repeat = N) and
 * times only ring_buffer__consume (after one warm-up round), per round.
 * Prints one JSON line.
 *
 * Usage: ring PROGRAM.bin EVENTS_PER_ROUND ROUNDS RING_BYTES
 */
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SEQ_PLACEHOLDER 0x7fff0001
#define RING_PLACEHOLDER 0x7fff0002

static uint64_t checksum;

static int on_sample(void *ctx, void *data, size_t size) {
  (void)ctx;
  checksum += *(const uint64_t *)data + size;
  return 0;
}

/* Process CPU time, not wall time: on a loaded machine preemption would otherwise dominate. */
static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

int main(int argc, char **argv) {
  if (argc != 5) {
    fprintf(stderr, "usage: %s PROGRAM.bin EVENTS_PER_ROUND ROUNDS RING_BYTES\n", argv[0]);
    return 2;
  }
  long per_round = atol(argv[2]), rounds = atol(argv[3]), ring_bytes = atol(argv[4]);
  FILE *f = fopen(argv[1], "rb");
  if (!f) { perror(argv[1]); return 1; }
  static struct bpf_insn insns[4096];
  size_t cnt = fread(insns, sizeof(struct bpf_insn), 4096, f);
  fclose(f);

  int seq_fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, "seq", 4, 8, 1, NULL);
  int ring_fd = bpf_map_create(BPF_MAP_TYPE_RINGBUF, "ring", 0, 0, (uint32_t)ring_bytes, NULL);
  if (seq_fd < 0 || ring_fd < 0) { fprintf(stderr, "map create failed\n"); return 1; }
  for (size_t i = 0; i < cnt; i++) {
    if (insns[i].code == (BPF_LD | BPF_DW | BPF_IMM) && insns[i].src_reg == BPF_PSEUDO_MAP_FD) {
      if (insns[i].imm == SEQ_PLACEHOLDER) insns[i].imm = seq_fd;
      else if (insns[i].imm == RING_PLACEHOLDER) insns[i].imm = ring_fd;
    }
  }
  int prog_fd = bpf_prog_load(BPF_PROG_TYPE_XDP, "rb_emit", "GPL", insns, cnt, NULL);
  if (prog_fd < 0) { fprintf(stderr, "prog load failed: %d\n", prog_fd); return 1; }
  struct ring_buffer *rb = ring_buffer__new(ring_fd, on_sample, NULL, NULL);
  if (!rb) { fprintf(stderr, "ring_buffer__new failed\n"); return 1; }

  unsigned char packet[64] = {0};
  uint64_t total_ns = 0, total_events = 0;
  uint64_t *round_ns = calloc((size_t)rounds, sizeof(uint64_t));
  if (!round_ns) return 1;
  /* Round -1 warms up (page faults, caches), as the TypeScript side lets its JIT settle. */
  for (long r = -1; r < rounds; r++) {
    LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = packet, .data_size_in = sizeof(packet), .repeat = (int)per_round);
    if (bpf_prog_test_run_opts(prog_fd, &opts) != 0) { fprintf(stderr, "test run failed\n"); return 1; }
    uint64_t t0 = now_ns();
    int n = ring_buffer__consume(rb);
    uint64_t dt = now_ns() - t0;
    if (n < 0) { fprintf(stderr, "consume failed: %d\n", n); return 1; }
    if (r >= 0) {
      total_ns += dt;
      total_events += (uint64_t)n;
      round_ns[r] = dt;
    }
  }
  printf("{\"events\":%llu,\"ns\":%llu,\"checksum\":%llu,\"rounds\":[", (unsigned long long)total_events, (unsigned long long)total_ns,
         (unsigned long long)checksum);
  for (long r = 0; r < rounds; r++) printf("%s%llu", r ? "," : "", (unsigned long long)round_ns[r]);
  printf("]}\n");
  free(round_ns);
  ring_buffer__free(rb);
  return 0;
}
