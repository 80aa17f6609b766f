// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * prog_swap: an A/B of builds of one cgroup program under real traffic.
 * Loads program PROG from each object on the maps pinned in PIN_DIR, with
 * the .rodata of the program the link holds (the constants the agent set
 * for this kernel), then puts each build in the pinned link in turn, PERIOD
 * ms at a time, for SECS seconds, and prints each build's ns per run from
 * the kernel's BPF statistics. The link gets its own program back at the
 * end, also on SIGINT/SIGTERM. Builds are compared with each other, never
 * with the link's own program, which another loader made.
 *
 *   prog_swap LINK_PIN PIN_DIR PROG SECS PERIOD_MS OBJ...
 *
 * bench/ab_lab runs it in bench/killswitch's topology (bench/README.md).
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#define MAX_BUILDS 8

struct build {
	const char *path;
	struct bpf_object *obj;
	int fd;
	__u64 ns, runs; /* at the start, then the difference */
};

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static int prog_stats(int fd, __u64 *ns, __u64 *runs)
{
	struct bpf_prog_info info = {};
	__u32 len = sizeof(info);

	if (bpf_obj_get_info_by_fd(fd, &info, &len))
		return -errno;
	*ns = info.run_time_ns;
	*runs = info.run_cnt;
	return 0;
}

/* The value of the .rodata map that program fd uses, or NULL. */
static void *read_rodata(int prog_fd, __u32 *size)
{
	__u32 ids[32], len, zero = 0;
	struct bpf_prog_info info = {};
	void *val = NULL;

	info.nr_map_ids = 32;
	info.map_ids = (__u64)(unsigned long)ids;
	len = sizeof(info);
	if (bpf_obj_get_info_by_fd(prog_fd, &info, &len))
		return NULL;
	for (__u32 i = 0; i < info.nr_map_ids && i < 32 && !val; i++) {
		struct bpf_map_info mi = {};
		int fd = bpf_map_get_fd_by_id(ids[i]);

		len = sizeof(mi);
		if (fd < 0)
			continue;
		if (!bpf_obj_get_info_by_fd(fd, &mi, &len) &&
		    strstr(mi.name, ".rodata")) {
			val = malloc(mi.value_size);
			if (val && bpf_map_lookup_elem(fd, &zero, val)) {
				free(val);
				val = NULL;
			}
			*size = mi.value_size;
			printf("constants: %s (%u bytes) of the link's program\n",
			       mi.name, mi.value_size);
		}
		close(fd);
	}
	return val;
}

static int load_build(struct build *b, const char *pin_dir, const char *prog,
		      const void *rodata, __u32 rodata_size)
{
	LIBBPF_OPTS(bpf_object_open_opts, opts, .pin_root_path = pin_dir);
	struct bpf_program *p, *want = NULL;
	struct bpf_map *m;

	b->obj = bpf_object__open_file(b->path, &opts);
	if (!b->obj)
		return -errno;
	bpf_object__for_each_program(p, b->obj) {
		bool it = !strcmp(bpf_program__name(p), prog);

		bpf_program__set_autoload(p, it);
		if (it)
			want = p;
	}
	if (!want)
		return -ENOENT;
	bpf_object__for_each_map(m, b->obj) {
		size_t size;

		if (!strstr(bpf_map__name(m), ".rodata") || !rodata ||
		    !bpf_map__initial_value(m, &size) || size != rodata_size)
			continue;
		if (bpf_map__set_initial_value(m, rodata, size))
			return -EINVAL;
	}
	if (bpf_object__load(b->obj))
		return -EINVAL;
	b->fd = bpf_program__fd(want);
	return 0;
}

int main(int argc, char **argv)
{
	struct build builds[MAX_BUILDS] = {};
	struct bpf_link_info li = {};
	__u32 len = sizeof(li), rodata_size = 0;
	int n = argc - 6, link_fd, own_fd, stats_fd, err = 0;
	struct timespec period;
	long secs, ms, rounds;
	void *rodata;

	if (argc < 7 || n > MAX_BUILDS) {
		fprintf(stderr, "usage: prog_swap LINK_PIN PIN_DIR PROG SECS "
				"PERIOD_MS OBJ... (at most %d)\n",
			MAX_BUILDS);
		return 2;
	}
	secs = strtol(argv[4], NULL, 10);
	ms = strtol(argv[5], NULL, 10);
	if (secs < 1 || secs > 600 || ms < 10 || ms > 10000) {
		fprintf(stderr, "prog_swap: SECS 1-600, PERIOD_MS 10-10000\n");
		return 2;
	}
	link_fd = bpf_obj_get(argv[1]);
	if (link_fd < 0 || bpf_obj_get_info_by_fd(link_fd, &li, &len)) {
		fprintf(stderr, "prog_swap: link %s: %s\n", argv[1],
			strerror(errno));
		return 1;
	}
	own_fd = bpf_prog_get_fd_by_id(li.prog_id);
	rodata = own_fd >= 0 ? read_rodata(own_fd, &rodata_size) : NULL;
	for (int i = 0; i < n; i++) {
		builds[i].path = argv[6 + i];
		err = load_build(&builds[i], argv[2], argv[3], rodata,
				 rodata_size);
		if (err) {
			fprintf(stderr, "prog_swap: %s: %s\n", builds[i].path,
				strerror(-err));
			return 1;
		}
	}
	stats_fd = bpf_enable_stats(BPF_STATS_RUN_TIME);
	if (stats_fd < 0) {
		fprintf(stderr, "prog_swap: BPF statistics: %s\n",
			strerror(errno));
		return 1;
	}
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	for (int i = 0; i < n; i++)
		prog_stats(builds[i].fd, &builds[i].ns, &builds[i].runs);
	period.tv_sec = ms / 1000;
	period.tv_nsec = (ms % 1000) * 1000000L;
	rounds = secs * 1000 / ms;
	for (long r = 0; r < rounds && !stop && !err; r++) {
		if (bpf_link_update(link_fd, builds[r % n].fd, NULL))
			err = -errno;
		else
			nanosleep(&period, NULL);
	}
	if (bpf_link_update(link_fd, own_fd, NULL))
		fprintf(stderr, "prog_swap: the link's own program back: %s\n",
			strerror(errno));
	for (int i = 0; i < n && !err; i++) {
		__u64 ns, runs;

		prog_stats(builds[i].fd, &ns, &runs);
		ns -= builds[i].ns;
		runs -= builds[i].runs;
		printf("%s %.1f ns/run (%llu runs)\n", builds[i].path,
		       runs ? (double)ns / runs : 0.0,
		       (unsigned long long)runs);
	}
	if (err)
		fprintf(stderr, "prog_swap: link update: %s\n", strerror(-err));
	close(stats_fd);
	for (int i = 0; i < n; i++)
		bpf_object__close(builds[i].obj);
	free(rodata);
	return err || stop ? 1 : 0;
}
