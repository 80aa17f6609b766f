// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * tunlock's agent: `run`, the daemon (reloads, the epoll loop, its timers,
 * summaries, metrics and the integrity checks of the pins), and `apply`,
 * which makes the same pinned state once and exits.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <malloc.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/inotify.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>

#include "apply.h"
#include "cgindex.h"
#include "cgroup.h"
#include "cgwatch.h"
#include "containers.h"
#include "daemon.h"
#include "events.h"
#include "feed.h"
#include "integrity.h"
#include "jobs.h"
#include "links.h"
#include "log.h"
#include "metrics.h"
#include "notify.h"
#include "output.h"
#include "pins.h"
#include "policy.h"
#include "selftest.h"
#include "selftest_channel.h"
#include "status.h"

/* The running agent. */
struct agent {
	struct tl_run_opts opt;
	char cg_mount[PATH_MAX];
	struct tl_policy policy;
	struct tl_bpf bpf;
	struct tl_links links;
	struct tl_events events;
	struct tl_output out;
	struct tl_containers ctr;
	bool have_ctr;
	struct tl_cgwatch cgw;
	struct tl_integrity integrity; /* what the agent wrote, to compare */
	uint64_t links_restored, settings_restored;
	int epfd, sigfd, inofd, timerfd, rescan_fd, rescan_step;
	int selftest_fd; /* self-tests hand their runs in (selftest_channel.h) */
	bool out_polled; /* the output is in the epoll set for EPOLLOUT */
	uint64_t reloads_ok, reloads_failed;
	uint64_t last_reload_ns;
	bool last_reload_ok;
	uint64_t start_ns;
	/* summaries: totals at the start of the interval */
	struct tl_feed_totals totals;
	uint64_t dropped[TL_REASON_MAX];
	uint64_t unformatted[TL_REASON_MAX];
	uint64_t interval_start_ns;
};

static uint64_t realtime_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

static long monotonic_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000;
}

/* agent_pid 0: `apply` leaves the pins to whichever agent comes. */
static int record_agent(struct tl_bpf *b, unsigned int pid)
{
	int fd = tl_bpf_map_fd(b, TL_MAP_STATE);
	struct tl_state st;
	__u32 zero = 0;

	if (bpf_map_lookup_elem(fd, &zero, &st))
		return -errno;
	st.agent_pid = pid;
	/* reused programs were loaded on this kernel, whose features the
	 * agent that loaded them recorded: probing again (the kernel's BTF
	 * parsed) would only cost the restart time */
	if (!b->reused || !st.features)
		st.features = tl_kernel_features();
	if (bpf_map_update_elem(fd, &zero, &st, BPF_ANY))
		return -errno;
	if (tl_record_netns(fd))
		return -errno;
	if (tl_bump_verdicts(b)) /* the agent's namespace decides verdicts */
		return -EIO;
	if (!(st.features & TL_FEATURE_BPF_LSM))
		log_warn("this kernel has no BPF LSM: raw and packet socket "
			 "creation cannot be denied (see `tunlock status`)");
	return 0;
}

static int attach_at(struct tl_bpf *b, const char *cg_mount,
		     const struct tl_policy *p)
{
	char attach[PATH_MAX * 2];

	snprintf(attach, sizeof(attach), "%s%s", cg_mount,
		 strcmp(p->attach_cgroup, "/") ? p->attach_cgroup : "");
	return tl_bpf_attach_cgroup(b, attach);
}

/* Applies p, with its allow tables made ahead (or NULL); its allow rules,
 * now in the kernel's tables, are freed. */
static int apply_to(struct tl_bpf *b, const char *cg_mount,
		    struct tl_policy *p, struct tl_ahead *ahead)
{
	struct tl_applied ap;
	int err;

	err = tl_apply_policy_ahead(b, p, cg_mount, ahead, &ap);
	if (err)
		return err;
	tl_policy_drop_allow(p);
	log_info("policy generation %u applied (%s mode): %zu cgroups, %zu "
		 "allowed CIDRs%s, %zu endpoints",
		 ap.generation, p->mode == TL_MODE_AUDIT ? "audit" : "enforce",
		 ap.cgroups, ap.allow_entries,
		 ap.ahead	 ? " (their tables made while the programs "
				   "loaded)" :
		 ap.reused == 2 ? " (unchanged: their tables kept)" :
		 ap.reused	 ? " (one of their tables unchanged, kept)" :
				   "",
		 ap.endpoints);
	return 0;
}

static void reload_done(struct agent *a, bool ok)
{
	a->last_reload_ns = realtime_ns();
	a->last_reload_ok = ok;
	if (ok)
		a->reloads_ok++;
	else
		a->reloads_failed++;
	tl_notify(ok ? "READY=1\nSTATUS=enforcing (reloaded)" :
		       "READY=1\nSTATUS=enforcing (reload failed: the running "
		       "policy stays in force)");
}

/*
 * Container namespaces are looked for again shortly after a cgroup's
 * population or a veth changed, and, while a namespace waits for its
 * processes, a few times more with a growing delay: a process may join
 * its cgroup before it enters its namespace.
 */
static void schedule_rescan(struct agent *a, bool restart)
{
	static const long delays_ms[] = { 10, 100, 1000, 3000 };
	struct itimerspec its = {};
	long ms;

	if (!a->have_ctr || a->rescan_fd < 0)
		return;
	if (restart)
		a->rescan_step = 0;
	if (a->rescan_step >= (int)(sizeof(delays_ms) / sizeof(delays_ms[0])))
		return;
	ms = delays_ms[a->rescan_step++];
	its.it_value.tv_sec = ms / 1000;
	its.it_value.tv_nsec = (ms % 1000) * 1000000;
	timerfd_settime(a->rescan_fd, 0, &its, NULL);
}

static void on_rescan(struct agent *a)
{
	uint64_t ticks;

	if (read(a->rescan_fd, &ticks, sizeof(ticks)) != sizeof(ticks))
		return;
	if (tl_links_rescan(&a->links))
		log_warn("classifying container ports failed");
	/* again later only while something waits for its processes: at
	 * rest, the agent wakes for nothing */
	if (a->links.rescan || tl_links_pending(&a->links))
		schedule_rescan(a, false);
}

/* What the agent just wrote, for check_pins to compare with. */
static void remember_applied(struct agent *a)
{
	if (tl_integrity_record(&a->integrity, &a->bpf))
		log_warn("cannot read back the policy just applied: tampering "
			 "with it is not detected");
}

/*
 * The new policy is checked whole, then built aside in the idle slot and
 * switched in with one write (apply.c); a policy that does not check, or
 * cannot be built, leaves the running one in force.
 */
static void reload(struct agent *a)
{
	long t0 = monotonic_ms(), parsed, applied;
	struct tl_policy next;

	tl_notify_reloading();
	if (tl_policy_load(a->opt.config, &next, stderr)) {
		log_error("reload of %s failed; the running policy stays in "
			  "force",
			  a->opt.config);
		reload_done(a, false);
		return;
	}
	if (next.container_mark != a->policy.container_mark) {
		/* stamps in flight would be read with the wrong bits */
		log_error("%s: container_mark cannot change while running "
			  "(`tunlock stop`, then run); the running policy "
			  "stays in force",
			  a->opt.config);
		tl_policy_free(&next);
		reload_done(a, false);
		return;
	}
	parsed = monotonic_ms();
	if (apply_to(&a->bpf, a->cg_mount, &next, NULL)) {
		tl_policy_free(&next);
		log_error("reload failed; the running policy stays in force");
		reload_done(a, false);
		return;
	}
	applied = monotonic_ms();
	tl_policy_free(&a->policy);
	a->policy = next;
	a->events.policy = &a->policy;
	if (a->have_ctr) /* before the links are classified again */
		tl_containers_set_attach(&a->ctr, a->policy.attach_cgroup);
	if (tl_links_set_policy(&a->links, &a->policy))
		log_error("reclassifying interfaces after reload failed");
	if (attach_at(&a->bpf, a->cg_mount, &a->policy))
		log_error("attaching at %s failed", a->policy.attach_cgroup);
	remember_applied(a);
	if (a->cgw.fd >= 0)
		tl_cgwatch_reset(&a->cgw, &a->policy);
	schedule_rescan(a, true);
	log_info("reloaded %s: parsed in %ld ms, applied in %ld ms, in force "
		 "everywhere after %ld ms",
		 a->opt.config, parsed - t0, applied - parsed,
		 monotonic_ms() - t0);
	reload_done(a, true);
}

static int watch_config(struct agent *a)
{
	char dir[PATH_MAX];

	snprintf(dir, sizeof(dir), "%s", a->opt.config);
	a->inofd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (a->inofd < 0)
		return -errno;
	/* The directory: editors and config management replace the file. */
	if (inotify_add_watch(a->inofd, dirname(dir),
			      IN_CLOSE_WRITE | IN_MOVED_TO | IN_CREATE) < 0)
		return -errno;
	return 0;
}

static bool config_changed(struct agent *a)
{
	char buf[4096] __attribute__((aligned(8)));
	char copy[PATH_MAX];
	const char *base;
	bool hit = false;
	ssize_t n;

	snprintf(copy, sizeof(copy), "%s", a->opt.config);
	base = basename(copy);
	while ((n = read(a->inofd, buf, sizeof(buf))) > 0) {
		for (char *p = buf; p < buf + n;) {
			struct inotify_event *ev = (void *)p;

			/* "..data": a Kubernetes ConfigMap volume swaps this
			 * symlink to update every file in it at once */
			if (ev->len && (!strcmp(ev->name, base) ||
					!strcmp(ev->name, "..data")))
				hit = true;
			p += sizeof(*ev) + ev->len;
		}
	}
	return hit;
}

static int epoll_add(int epfd, int fd, int tag)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u32 = tag };

	return epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) ? -errno : 0;
}

enum {
	TAG_SIGNAL,
	TAG_LINKS,
	TAG_EVENTS,
	TAG_CONFIG,
	TAG_TIMER,
	TAG_OUTPUT,
	TAG_CGROUPS,
	TAG_RESCAN,
	TAG_SELFTEST,
};

/*
 * A pipe or socket consumer that fell behind: wait for it to drain, and
 * only while there is something to write, so that at rest the agent wakes
 * for nothing.
 */
static void poll_output(struct agent *a)
{
	bool want = a->out.pollable && a->out.len;
	struct epoll_event ev = { .events = EPOLLOUT, .data.u32 = TAG_OUTPUT };

	if (want == a->out_polled)
		return;
	if (epoll_ctl(a->epfd, want ? EPOLL_CTL_ADD : EPOLL_CTL_DEL, a->out.fd,
		      &ev))
		log_debug("event output poll: %s", strerror(errno));
	else
		a->out_polled = want;
}

/* One summary line per reason whose events were not all written. */
static void write_summaries(struct agent *a, uint64_t now)
{
	struct tl_feed_totals t;
	char line[1024];
	int n;

	if (tl_feed_read_totals(tl_bpf_map_fd(&a->bpf, TL_MAP_COUNTERS),
				tl_bpf_map_fd(&a->bpf, TL_MAP_EVENT_STATS), &t))
		return;
	for (__u32 r = TL_REASON_NONE + 1; r < TL_ALLOW_FIRST; r++) {
		struct tl_summary s = {
			.reason = r,
			.start_ns = a->interval_start_ns,
			.end_ns = now,
			.decisions = t.decisions[r] - a->totals.decisions[r],
			.dropped = a->events.dropped[r] - a->dropped[r],
			.unformatted =
				a->events.unformatted[r] - a->unformatted[r],
		};

		s.emitted = t.ev[r][TL_EVSTAT_EMITTED] -
			    a->totals.ev[r][TL_EVSTAT_EMITTED];
		s.suppressed = t.ev[r][TL_EVSTAT_SUPPRESSED] -
			       a->totals.ev[r][TL_EVSTAT_SUPPRESSED];
		s.lost = t.ev[r][TL_EVSTAT_LOST] - a->totals.ev[r][TL_EVSTAT_LOST];
		a->dropped[r] = a->events.dropped[r];
		a->unformatted[r] = a->events.unformatted[r];
		if (!s.suppressed && !s.lost && !s.dropped && !s.unformatted)
			continue;
		s.generation = tl_applied_generation(&a->bpf);
		n = tl_summary_format(&s, a->opt.format, line, sizeof(line));
		if (n > 0)
			tl_output_line(&a->out, line, n);
	}
	a->totals = t;
	a->interval_start_ns = now;
}

static void write_metrics(struct agent *a)
{
	static struct tl_metrics m; /* 4 KiB of counters: not on the stack */
	uint64_t ok;
	int err;

	memset(&m, 0, sizeof(m));
	err = tl_metrics_collect(&a->bpf, &m);
	m.reloads_ok = a->reloads_ok;
	m.reloads_failed = a->reloads_failed;
	m.last_reload_ns = a->last_reload_ns;
	m.last_reload_ok = a->last_reload_ok;
	m.lines_written = a->out.written;
	m.lines_dropped = a->out.dropped;
	for (int r = 0; r < TL_REASON_MAX; r++)
		m.lines_unformatted += a->events.unformatted[r];
	m.start_ns = a->start_ns;
	m.cgroup_rescans = a->cgw.rescans;
	m.links_restored = a->links_restored;
	m.settings_restored = a->settings_restored;
	m.cgroup_table_full = a->cgw.table_full;
	m.cgroups_frozen = a->cgw.nheld;
	tl_cgroup_path_stats(&ok, &m.cgroup_paths_unknown);
	if (!err)
		err = tl_metrics_write(a->opt.metrics, &m);
	if (err)
		log_warn("writing metrics to %s: %s", a->opt.metrics,
			 strerror(-err));
}

/* Pinned state someone else changed: a log line, an event, a count. */
static void report_integrity(struct agent *a, const char *object,
			     const char *name, const char *found,
			     const char *action)
{
	struct tl_integrity_event x = {
		.time_ns = realtime_ns(),
		.object = object,
		.name = name,
		.found = found,
		.action = action,
		.generation = tl_applied_generation(&a->bpf),
	};
	char line[1024];
	int n;

	log_error("%s %s was %s (not by this agent): %s", object, name, found,
		  action);
	n = tl_integrity_format(&x, a->opt.format, line, sizeof(line));
	if (n > 0)
		tl_output_line(&a->out, line, n);
}

/*
 * The pinned state is what the agent made it: its links attached and
 * pinned, the live settings and slot as applied. What was removed,
 * detached or rewritten is put back and reported. On the interval timer
 * and on SIGHUP.
 */
static void check_pins(struct agent *a)
{
	struct tl_link_repair r[TL_LINKS_MAX];
	unsigned int t;
	int n;

	n = tl_bpf_check_links(&a->bpf, r, TL_LINKS_MAX);
	for (int i = 0; i < n; i++) {
		report_integrity(a, "link", r[i].name, r[i].found, r[i].action);
		if (strcmp(r[i].action, "failed"))
			a->links_restored++;
	}
	t = tl_integrity_check(&a->integrity, &a->bpf);
	if (t & TL_TAMPER_SETTINGS)
		report_integrity(a, "settings", "tl_settings", "rewritten",
				 t & TL_TAMPER_FAILED ? "failed" : "restored");
	if (t & TL_TAMPER_STATE)
		report_integrity(a, "settings", "tl_state", "rewritten",
				 t & TL_TAMPER_FAILED ? "failed" : "restored");
	if (t && !(t & TL_TAMPER_FAILED))
		a->settings_restored++;
}

/* The interval: summaries and metrics; the agent's only periodic work. */
static void on_timer(struct agent *a)
{
	uint64_t expirations;

	if (read(a->timerfd, &expirations, sizeof(expirations)) < 0)
		return;
	check_pins(a);
	tl_events_drain(&a->events); /* count what is written so far */
	if (a->cgw.nheld)
		tl_cgwatch_retry(&a->cgw);
	write_summaries(a, realtime_ns());
	if (a->opt.metrics)
		write_metrics(a);
}

static int start_timer(struct agent *a)
{
	struct itimerspec its = {
		.it_interval.tv_sec = a->opt.interval,
		.it_value.tv_sec = a->opt.interval,
	};

	a->timerfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (a->timerfd < 0 || timerfd_settime(a->timerfd, 0, &its, NULL))
		return -errno;
	return epoll_add(a->epfd, a->timerfd, TAG_TIMER);
}

static int setup_loop(struct agent *a)
{
	sigset_t set;
	int err;

	sigemptyset(&set);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGUSR1);
	sigprocmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	a->sigfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	a->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (a->sigfd < 0 || a->epfd < 0)
		return -errno;
	err = epoll_add(a->epfd, a->sigfd, TAG_SIGNAL);
	if (!err)
		err = epoll_add(a->epfd, a->links.nl.fd, TAG_LINKS);
	if (!err)
		err = epoll_add(a->epfd, tl_events_fd(&a->events), TAG_EVENTS);
	if (!err)
		err = start_timer(a);
	if (!err && !watch_config(a))
		err = epoll_add(a->epfd, a->inofd, TAG_CONFIG);
	if (!err && a->cgw.fd >= 0)
		err = epoll_add(a->epfd, a->cgw.fd, TAG_CGROUPS);
	a->rescan_fd = timerfd_create(CLOCK_MONOTONIC,
				      TFD_NONBLOCK | TFD_CLOEXEC);
	if (!err && a->rescan_fd >= 0)
		err = epoll_add(a->epfd, a->rescan_fd, TAG_RESCAN);
	if (!err && a->links.rescan)
		schedule_rescan(a, true);
	a->selftest_fd = tl_selftest_listen(a->opt.pin_dir);
	if (a->selftest_fd < 0)
		log_warn("no selftest socket in %s (%s): self-test runs are "
			 "not in the feed", TL_RUN_DIR, strerror(-a->selftest_fd));
	else if (!err)
		err = epoll_add(a->epfd, a->selftest_fd, TAG_SELFTEST);
	return err;
}

/* Each run of `tunlock selftest` handed in: one line in the feed. */
static void on_selftest(struct agent *a)
{
	static struct tl_selftest_report r; /* 3 KiB: not on the stack */
	char line[8192];
	int got, n;

	while ((got = tl_selftest_receive(a->selftest_fd, &r))) {
		if (got == -EPERM || got == -EBADMSG) {
			log_warn("selftest socket: a datagram refused (%s)",
				 got == -EPERM ? "not from root" :
						 "not a report");
			continue;
		}
		if (got < 0) {
			log_warn("selftest socket: %s", strerror(-got));
			return;
		}
		n = tl_selftest_format(&r, a->opt.format, line, sizeof(line));
		if (n > 0)
			tl_output_line(&a->out, line, n);
	}
}

/* Returns false when the agent must end (SIGTERM, SIGINT). */
static bool on_signals(struct agent *a)
{
	struct signalfd_siginfo si;

	while (read(a->sigfd, &si, sizeof(si)) == sizeof(si)) {
		switch (si.ssi_signo) {
		case SIGHUP:
			log_info("SIGHUP: reloading %s", a->opt.config);
			check_pins(a); /* a removed link pin: before attaching */
			reload(a);
			break;
		case SIGUSR1:
			log_info("SIGUSR1: reopening the event output");
			if (tl_output_reopen(&a->out))
				log_error("reopening %s failed; writing on to "
					  "the old file",
					  a->opt.events);
			a->out_polled = false; /* a closed fd left the set */
			break;
		default:
			return false;
		}
	}
	return true;
}

static void dispatch(struct agent *a, uint32_t tag, bool *run)
{
	switch (tag) {
	case TAG_SIGNAL:
		*run = on_signals(a);
		break;
	case TAG_LINKS:
		if (tl_links_handle(&a->links))
			log_error("following interfaces failed");
		if (a->links.rescan)
			schedule_rescan(a, true);
		break;
	case TAG_CGROUPS:
		if (tl_cgwatch_handle(&a->cgw))
			log_error("following cgroups failed");
		if (a->cgw.populated) {
			a->cgw.populated = false;
			schedule_rescan(a, true);
		}
		break;
	case TAG_RESCAN:
		on_rescan(a);
		break;
	case TAG_SELFTEST:
		on_selftest(a);
		break;
	case TAG_EVENTS:
		tl_events_drain(&a->events);
		break;
	case TAG_CONFIG:
		if (config_changed(a)) {
			log_info("%s changed: reloading", a->opt.config);
			reload(a);
		}
		break;
	case TAG_TIMER:
		on_timer(a);
		break;
	case TAG_OUTPUT:
		tl_output_flush(&a->out);
		break;
	}
}

/*
 * What is ready is handled in this order: signals, interfaces and tunnels
 * first, the event feed last, so that guarding a new interface never
 * waits behind formatting events.
 */
static int urgency(uint32_t tag)
{
	return tag == TAG_SIGNAL ? 0 : tag == TAG_LINKS ? 1 :
	       tag == TAG_EVENTS ? 3 : 2;
}

/* Returns when SIGTERM or SIGINT arrives. */
static void loop(struct agent *a)
{
	struct epoll_event evs[8];
	bool run = true;

	while (run) {
		int n = epoll_wait(a->epfd, evs, 8, -1);

		if (n < 0 && errno != EINTR) {
			log_error("epoll: %s", strerror(errno));
			return;
		}
		for (int u = 0; u < 4; u++)
			for (int i = 0; i < n && run; i++)
				if (urgency(evs[i].data.u32) == u)
					dispatch(a, evs[i].data.u32, &run);
		tl_output_flush(&a->out);
		poll_output(a);
	}
}

static int find_cgroup_mount(char *buf, size_t len)
{
	int err = tl_cgroup_mount(buf, len);

	if (err)
		log_error("no cgroup2 mount found in /proc/self/mounts (`ip "
			  "netns exec` remounts /sys and hides it: use "
			  "`nsenter --net=/run/netns/NAME` instead)");
	return err;
}

/* Another agent keeps these pins: two would fight over them. */
static int refuse_second_agent(const char *pin_dir, const char *what)
{
	unsigned int pid = tl_pins_agent(pin_dir);

	if (!pid)
		return 0;
	log_error("an agent (pid %u) keeps %s already: %s", pid, pin_dir, what);
	return -EBUSY;
}

/* A fresh start's policy read beside the load, which also makes the
 * policy's allow tables (off the path to enforcing). */
struct policy_read {
	struct tl_job job;
	struct agent *a;
	struct tl_ahead *ahead; /* NULL: the apply makes them */
};

/*
 * What `run` and `apply` share: pins loaded or adopted, the policy applied,
 * then interfaces (tunnels known, TC attached), then the cgroup programs:
 * each program sees a complete state when it first runs. The agent's
 * cgroup watch (cgw) starts before the apply looks at the cgroups, so that
 * each one made meanwhile is in the table or an event, never neither.
 */
static int enforce(struct tl_bpf *b, struct tl_links *links,
		   struct tl_policy *p, const char *pin_dir,
		   const char *cg_mount, unsigned int pid,
		   struct tl_containers *ctr, bool *have_ctr,
		   struct policy_read *reading, struct tl_cgwatch *cgw)
{
	int err, bad;

	err = tl_bpf_load(b, pin_dir);
	bad = reading ? tl_job_wait(&reading->job) : 0;
	if (bad && !err && !b->adopted) {
		/* a fresh start: what the load pinned goes, nothing ran */
		tl_bpf_close(b);
		tl_pins_unpin(pin_dir);
	}
	if (err || bad)
		return bad ?: err;
	if (b->adopted)
		log_info("adopting the pinned state in %s", pin_dir);
	err = record_agent(b, pid);
	if (err)
		return err;
	if (cgw && tl_cgwatch_open(cgw, b, p, cg_mount))
		log_warn("cannot follow new cgroups: they get their ancestor's "
			 "profile until a reload");
	err = apply_to(b, cg_mount, p, reading ? reading->ahead : NULL);
	if (err)
		return err;
	*have_ctr = !tl_containers_open(ctr, b, cg_mount);
	if (*have_ctr) {
		tl_containers_set_mark(ctr, p->container_mark);
		tl_containers_set_attach(ctr, p->attach_cgroup);
	}
	else
		log_warn("container namespaces cannot be followed: their "
			 "veths are guarded as uplinks");
	err = tl_links_open(links, b, p, *have_ctr ? ctr : NULL);
	if (err) {
		log_error("following interfaces: %s", strerror(-err));
		return err;
	}
	return attach_at(b, cg_mount, p);
}

static int read_policy(struct agent *a)
{
	return tl_policy_load(a->opt.config, &a->policy, stderr) ? -EINVAL : 0;
}

/* The policy file read, and its allow tables made, as a job (jobs.h). */
static int read_policy_ahead(void *arg)
{
	struct policy_read *r = arg;
	int err = read_policy(r->a);

	if (!err)
		r->ahead = tl_apply_ahead(&r->a->policy);
	return err;
}

static int start_agent(struct agent *a)
{
	struct policy_read reading = {.a = a};
	/*
	 * A fresh start reads the policy while the programs load (a large
	 * policy's parse takes as long as the verifier): enforce waits for
	 * it before anything runs, and takes back the pins when it is bad.
	 * Otherwise it is read first: pins in place are not touched for a
	 * bad policy.
	 */
	bool fresh = tl_pins_fresh(a->opt.pin_dir);
	int err;

	a->start_ns = realtime_ns();
	reading.job = (struct tl_job){.run = read_policy_ahead, .arg = &reading};
	if (fresh)
		tl_job_start(&reading.job);
	else if (read_policy(a))
		return -EINVAL;
	err = find_cgroup_mount(a->cg_mount, sizeof(a->cg_mount));
	if (!err)
		err = refuse_second_agent(a->opt.pin_dir,
					  "stop it first (`systemctl stop "
					  "tunlock`), or reload it with SIGHUP");
	if (!err)
		err = tl_output_open(&a->out, a->opt.events);
	if (err && fresh)
		tl_job_wait(&reading.job);
	if (!err)
		err = enforce(&a->bpf, &a->links, &a->policy, a->opt.pin_dir,
			      a->cg_mount, getpid(), &a->ctr, &a->have_ctr,
			      fresh ? &reading : NULL, &a->cgw);
	tl_apply_ahead_free(reading.ahead); /* what the apply did not take */
	if (!err)
		err = tl_events_open(&a->events,
				     tl_bpf_map_fd(&a->bpf, TL_MAP_EVENTS),
				     &a->out, a->cg_mount);
	if (err)
		return err;
	a->events.policy = &a->policy;
	a->events.format = a->opt.format;
	remember_applied(a);
	a->interval_start_ns = realtime_ns();
	tl_feed_read_totals(tl_bpf_map_fd(&a->bpf, TL_MAP_COUNTERS),
			    tl_bpf_map_fd(&a->bpf, TL_MAP_EVENT_STATS),
			    &a->totals);
	return setup_loop(a);
}

int tl_daemon_run(const struct tl_run_opts *o)
{
	struct agent *a = calloc(1, sizeof(*a));
	int err;

	if (!a)
		return 1;
	a->links.nl.fd = a->links.query.fd = a->sigfd = a->epfd = a->inofd = a->timerfd = -1;
	a->rescan_fd = a->cgw.fd = a->selftest_fd = -1;
	a->opt = *o;
	if (a->opt.verbose)
		tl_log_threshold = TL_LOG_DEBUG;
	tl_log_setup_libbpf();
	err = start_agent(a);
	if (!err) {
		/*
		 * Loading parsed the kernel's BTF for CO-RE (megabytes, freed
		 * since): give that heap back, so the agent rests small.
		 */
		malloc_trim(0);
		log_info("enforcing; events follow on %s",
			 a->opt.events ? a->opt.events : "stdout");
		tl_notify("READY=1\nSTATUS=enforcing");
		if (a->opt.metrics)
			write_metrics(a);
		loop(a);
		tl_notify("STOPPING=1");
		tl_events_drain(&a->events);
		if (a->opt.metrics)
			write_metrics(a);
		log_info("exiting; enforcement stays pinned in %s "
			 "(`tunlock stop` removes it)",
			 a->opt.pin_dir);
	}
	tl_selftest_unlisten(a->selftest_fd, a->opt.pin_dir);
	tl_events_close(&a->events);
	tl_output_close(&a->out);
	tl_cgwatch_close(&a->cgw);
	tl_links_close(&a->links);
	if (a->have_ctr)
		tl_containers_close(&a->ctr);
	if (a->rescan_fd >= 0)
		close(a->rescan_fd);
	tl_bpf_close(&a->bpf);
	tl_policy_free(&a->policy);
	free(a);
	return err ? 1 : 0;
}

int tl_daemon_apply(const struct tl_run_opts *o)
{
	char cg_mount[PATH_MAX];
	struct tl_links links = {.nl.fd = -1, .query.fd = -1};
	struct tl_containers *ctr = calloc(1, sizeof(*ctr));
	bool have_ctr = false;
	struct tl_policy p;
	struct tl_bpf b = {};
	int err;

	if (!ctr)
		return 1;
	if (o->verbose)
		tl_log_threshold = TL_LOG_DEBUG;
	tl_log_setup_libbpf();
	if (tl_policy_load(o->config, &p, stderr)) {
		free(ctr);
		return 1;
	}
	err = find_cgroup_mount(cg_mount, sizeof(cg_mount));
	if (!err)
		err = refuse_second_agent(o->pin_dir,
					  "reload it with SIGHUP (`systemctl "
					  "reload tunlock`) instead");
	if (!err)
		err = enforce(&b, &links, &p, o->pin_dir, cg_mount, 0, ctr,
			      &have_ctr, NULL, NULL);
	if (!err)
		printf("applied %s: policy generation %u, %zu interface(s) "
		       "known; enforcement pinned in %s until `tunlock stop`\n",
		       o->config, tl_applied_generation(&b), links.n,
		       o->pin_dir);
	tl_links_close(&links);
	if (have_ctr)
		tl_containers_close(ctr);
	free(ctr);
	tl_bpf_close(&b);
	tl_policy_free(&p);
	return err ? 1 : 0;
}

