/* Anchor for bench/btf.ts: libbpf's btf__parse (a full parse) of a BTF file
 * plus one btf__find_by_name_kind, repeated; prints the median and minimum
 * nanoseconds per iteration as JSON. Usage: btf_parse FILE ITERATIONS NAME */
#include <bpf/btf.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static long long now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static int cmp(const void *a, const void *b)
{
	long long x = *(const long long *)a, y = *(const long long *)b;
	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	if (argc != 4) {
		fprintf(stderr, "usage: %s FILE ITERATIONS NAME\n", argv[0]);
		return 2;
	}
	int n = atoi(argv[2]);
	long long *t = calloc(n, sizeof(*t));
	long found = 0;
	for (int i = 0; i < n; i++) {
		long long start = now_ns();
		struct btf *btf = btf__parse(argv[1], NULL);
		if (!btf) {
			perror("btf__parse");
			return 1;
		}
		found += btf__find_by_name_kind(btf, argv[3], BTF_KIND_STRUCT);
		btf__free(btf);
		t[i] = now_ns() - start;
	}
	qsort(t, n, sizeof(*t), cmp);
	printf("{\"median_ns\":%lld,\"min_ns\":%lld,\"types\":%ld}\n", t[n / 2], t[0], found / n);
	return 0;
}
