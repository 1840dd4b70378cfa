/*
 * Anchor for bench/maps.ts: libbpf's bpf_map_lookup_elem / bpf_map_update_elem
 * per element, and bpf_map_lookup_batch dumping a hash map, on maps shaped
 * exactly like the ones tsbpf measures (u32 key, u64 value).
 *
 * Usage: maps ELEMENTS OPS DUMP_ENTRIES DUMP_CHUNK ROUNDS
 * Prints one JSON line: {"lookup_ns":..,"update_ns":..,"dump_ns":..}
 * (per element for lookup/update, per whole dump for dump; best of ROUNDS).
 * Times are process CPU time (user + system), as bench/maps.ts measures its
 * side: on a loaded machine wall time would mostly measure preemption.
 */
#include <bpf/bpf.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

static int make_hash(uint32_t entries) {
  int fd = bpf_map_create(BPF_MAP_TYPE_HASH, "bench", 4, 8, entries, NULL);
  if (fd < 0) { perror("bpf_map_create"); exit(1); }
  for (uint32_t k = 0; k < entries; k++) {
    uint64_t v = (uint64_t)k * 3;
    if (bpf_map_update_elem(fd, &k, &v, BPF_ANY)) { perror("update"); exit(1); }
  }
  return fd;
}

int main(int argc, char **argv) {
  if (argc != 6) { fprintf(stderr, "usage: maps ELEMENTS OPS DUMP_ENTRIES DUMP_CHUNK ROUNDS\n"); return 2; }
  uint32_t elements = atoi(argv[1]), ops = atoi(argv[2]), dump_entries = atoi(argv[3]), chunk = atoi(argv[4]), rounds = atoi(argv[5]);
  uint64_t checksum = 0, best_lookup = ~0ull, best_update = ~0ull, best_dump = ~0ull;

  int fd = make_hash(elements);
  for (uint32_t r = 0; r < rounds; r++) {
    uint64_t v, t0 = now_ns();
    for (uint32_t i = 0; i < ops; i++) {
      uint32_t k = i % elements;
      if (bpf_map_lookup_elem(fd, &k, &v)) { perror("lookup"); return 1; }
      checksum += v;
    }
    uint64_t dt = now_ns() - t0;
    if (dt < best_lookup) best_lookup = dt;
    t0 = now_ns();
    for (uint32_t i = 0; i < ops; i++) {
      uint32_t k = i % elements;
      v = i;
      if (bpf_map_update_elem(fd, &k, &v, BPF_ANY)) { perror("update"); return 1; }
    }
    dt = now_ns() - t0;
    if (dt < best_update) best_update = dt;
  }

  int big = make_hash(dump_entries);
  uint32_t *keys = malloc((size_t)dump_entries * 4);
  uint64_t *values = malloc((size_t)dump_entries * 8);
  for (uint32_t r = 0; r < rounds; r++) {
    uint64_t t0 = now_ns();
    uint32_t total = 0, out_batch = 0, in_batch = 0;
    int first = 1;
    for (;;) {
      uint32_t count = chunk;
      if (total + count > dump_entries) count = dump_entries - total;
      if (count == 0) count = 1;
      int err = bpf_map_lookup_batch(big, first ? NULL : &in_batch, &out_batch, keys + total, values + total, &count, NULL);
      total += count;
      if (err) {
        if (errno == ENOENT) break;
        perror("bpf_map_lookup_batch");
        return 1;
      }
      in_batch = out_batch;
      first = 0;
    }
    uint64_t dt = now_ns() - t0;
    if (total != dump_entries) { fprintf(stderr, "dumped %u of %u\n", total, dump_entries); return 1; }
    checksum += keys[total - 1] + values[0];
    if (dt < best_dump) best_dump = dt;
  }
  printf("{\"lookup_ns\":%.3f,\"update_ns\":%.3f,\"dump_ns\":%llu,\"checksum\":%llu}\n",
         (double)best_lookup / ops, (double)best_update / ops, (unsigned long long)best_dump, (unsigned long long)checksum);
  return 0;
}
