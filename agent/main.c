// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* tunlock: the command line (check, run, status, stop). */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/inotify.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <bpf/bpf.h>

#include "apply.h"
#include "cgroup.h"
#include "events.h"
#include "links.h"
#include "log.h"
#include "pins.h"
#include "policy.h"
#include "status.h"

#define TL_DEFAULT_CONFIG "/etc/tunlock/policy.yaml"
#define TL_VERSION "0.1.0"

static const char usage_main[] =
	"Usage: tunlock COMMAND [OPTIONS]\n"
	"\n"
	"Keeps this machine's traffic inside its VPN tunnel, enforced in the\n"
	"kernel by eBPF programs that stay pinned when the agent exits.\n"
	"\n"
	"Commands:\n"
	"  check   validate a policy file\n"
	"  run     load, pin and attach the policy, then follow tunnels and\n"
	"          interfaces and stream leak events\n"
	"  status  show what is enforced, from the pinned objects alone\n"
	"  stop    detach and unpin everything (the way back to normal)\n"
	"  help    show this text, or `tunlock help COMMAND`\n"
	"\n"
	"Run `tunlock COMMAND --help` for the options of a command.\n";

static const char usage_check[] =
	"Usage: tunlock check [-c FILE]\n"
	"\n"
	"Validates the policy without touching the kernel. Prints every\n"
	"problem as FILE:LINE:COL: message on stderr.\n"
	"\n"
	"  -c, --config FILE   policy file (default " TL_DEFAULT_CONFIG ")\n"
	"  -h, --help          this text\n"
	"\n"
	"Exit status: 0 valid, 1 invalid, 2 usage error.\n";

static const char usage_run[] =
	"Usage: tunlock run [-c FILE] [--pin-dir DIR] [-v]\n"
	"\n"
	"Loads the BPF programs, pins their maps and links under DIR (0700),\n"
	"applies the policy, attaches the socket and cgroup_skb programs at the\n"
	"policy's attach_cgroup and the TC egress filter to every non-tunnel\n"
	"interface of this network namespace, then follows interfaces and\n"
	"tunnels over rtnetlink and writes one JSON object per leak event to\n"
	"stdout. Pins from an earlier agent are adopted without a moment\n"
	"without enforcement. Logs go to stderr.\n"
	"\n"
	"Signals: SIGHUP reloads the policy (so does a change of the file);\n"
	"a policy that does not check leaves the running one in force.\n"
	"SIGTERM and SIGINT end the agent; enforcement stays pinned until\n"
	"`tunlock stop`.\n"
	"\n"
	"  -c, --config FILE   policy file (default " TL_DEFAULT_CONFIG ")\n"
	"      --pin-dir DIR   bpffs directory (default " TL_DEFAULT_PIN_DIR ")\n"
	"  -v, --verbose       debug logging, libbpf's included\n"
	"  -h, --help          this text\n"
	"\n"
	"Exit status: 0 after a signal, 1 when the policy or the kernel\n"
	"refuses, 2 usage error.\n";

static const char usage_status[] =
	"Usage: tunlock status [--json] [--pin-dir DIR]\n"
	"\n"
	"Shows, from the pinned objects alone (no agent needed): policy mode\n"
	"and generation, the agent's pid, the cgroup links, tunnels and their\n"
	"state, interfaces and their role, counters per layer, reason and\n"
	"verdict, and which leak classes this kernel lets tunlock cover.\n"
	"\n"
	"      --json          one JSON object instead of text\n"
	"      --pin-dir DIR   bpffs directory (default " TL_DEFAULT_PIN_DIR ")\n"
	"  -h, --help          this text\n"
	"\n"
	"Exit status: 0 enforcing, 1 nothing pinned, 2 usage error.\n";

static const char usage_stop[] =
	"Usage: tunlock stop [--pin-dir DIR]\n"
	"\n"
	"Ends a running agent, detaches every cgroup link and TC filter and\n"
	"removes the pins: traffic flows as if tunlock had never run. Run it\n"
	"in the network namespace the agent ran in.\n"
	"\n"
	"      --pin-dir DIR   bpffs directory (default " TL_DEFAULT_PIN_DIR ")\n"
	"  -h, --help          this text\n"
	"\n"
	"Exit status: 0 done (also when nothing was pinned), 1 on error.\n";

struct options {
	const char *config;
	const char *pin_dir;
	bool json;
	bool verbose;
};

enum { OPT_PIN_DIR = 256, OPT_JSON };

/* Parses the options a command accepts ("c", "p", "j", "v" in allowed). */
static int parse_options(int argc, char **argv, const char *allowed,
			 const char *usage, struct options *o)
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "pin-dir", required_argument, NULL, OPT_PIN_DIR },
		{ "json", no_argument, NULL, OPT_JSON },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	int c;

	o->config = TL_DEFAULT_CONFIG;
	o->pin_dir = TL_DEFAULT_PIN_DIR;
	optind = 1;
	while ((c = getopt_long(argc, argv, "c:vh", longopts, NULL)) != -1) {
		switch (c) {
		case 'h':
			fputs(usage, stdout);
			exit(0);
		case 'c':
			if (!strchr(allowed, 'c'))
				goto bad;
			o->config = optarg;
			break;
		case OPT_PIN_DIR:
			if (!strchr(allowed, 'p'))
				goto bad;
			o->pin_dir = optarg;
			break;
		case OPT_JSON:
			if (!strchr(allowed, 'j'))
				goto bad;
			o->json = true;
			break;
		case 'v':
			if (!strchr(allowed, 'v'))
				goto bad;
			o->verbose = true;
			break;
		default:
			goto bad;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "tunlock: unexpected argument '%s'\n",
			argv[optind]);
		goto bad;
	}
	return 0;
bad:
	fputs(usage, stderr);
	return 2;
}

static int cmd_check(int argc, char **argv)
{
	struct options o = {};
	struct tl_policy p;
	int err = parse_options(argc, argv, "c", usage_check, &o);

	if (err)
		return err;
	if (tl_policy_load(o.config, &p, stderr))
		return 1;
	printf("%s: ok (%zu tunnel%s, %zu profile%s, %zu cgroup rule%s)\n",
	       o.config, p.ntunnels, p.ntunnels == 1 ? "" : "s", p.nprofiles,
	       p.nprofiles == 1 ? "" : "s", p.ncgroups,
	       p.ncgroups == 1 ? "" : "s");
	tl_policy_free(&p);
	return 0;
}

static int cmd_status(int argc, char **argv)
{
	struct options o = {};
	int err = parse_options(argc, argv, "pj", usage_status, &o);

	if (err)
		return err;
	return tl_status(o.pin_dir, o.json, stdout);
}

static int cmd_stop(int argc, char **argv)
{
	struct options o = {};
	int err = parse_options(argc, argv, "p", usage_stop, &o);

	if (err)
		return err;
	if (!tl_pins_exist(o.pin_dir) && access(o.pin_dir, F_OK)) {
		printf("nothing pinned at %s\n", o.pin_dir);
		return 0;
	}
	if (tl_pins_remove(o.pin_dir))
		return 1;
	printf("stopped: enforcement removed, %s unpinned\n", o.pin_dir);
	return 0;
}

/* The running agent. */
struct agent {
	struct options opt;
	char cg_mount[PATH_MAX];
	struct tl_policy policy;
	struct tl_bpf bpf;
	struct tl_links links;
	struct tl_events events;
	int epfd, sigfd, inofd;
	uint64_t reloads_ok, reloads_failed;
};

static int record_agent(struct agent *a)
{
	int fd = tl_bpf_map_fd(&a->bpf, TL_MAP_STATE);
	struct tl_state st;
	__u32 zero = 0;

	if (bpf_map_lookup_elem(fd, &zero, &st))
		return -errno;
	st.agent_pid = getpid();
	st.features = tl_kernel_features();
	if (bpf_map_update_elem(fd, &zero, &st, BPF_ANY))
		return -errno;
	if (tl_record_netns(fd))
		return -errno;
	if (!(st.features & TL_FEATURE_BPF_LSM))
		log_warn("this kernel has no BPF LSM: raw and packet socket "
			 "creation cannot be denied (see `tunlock status`)");
	return 0;
}

static int attach_cgroup(struct agent *a, const struct tl_policy *p)
{
	char attach[PATH_MAX * 2];

	snprintf(attach, sizeof(attach), "%s%s", a->cg_mount,
		 strcmp(p->attach_cgroup, "/") ? p->attach_cgroup : "");
	return tl_bpf_attach_cgroup(&a->bpf, attach);
}

static int apply(struct agent *a, const struct tl_policy *p)
{
	struct tl_applied ap;
	int err;

	err = tl_apply_policy(&a->bpf, p, a->cg_mount, &ap);
	if (err)
		return err;
	log_info("policy generation %u applied (%s mode): %zu cgroups, %zu "
		 "allowed CIDRs, %zu endpoints",
		 ap.generation, p->mode == TL_MODE_AUDIT ? "audit" : "enforce",
		 ap.cgroups, ap.allow_entries, ap.endpoints);
	return 0;
}

static void reload(struct agent *a)
{
	struct tl_policy next;

	if (tl_policy_load(a->opt.config, &next, stderr)) {
		a->reloads_failed++;
		log_error("reload of %s failed; the running policy stays in "
			  "force",
			  a->opt.config);
		return;
	}
	if (apply(a, &next)) {
		a->reloads_failed++;
		tl_policy_free(&next);
		log_error("reload failed; the running policy stays in force");
		return;
	}
	tl_policy_free(&a->policy);
	a->policy = next;
	a->events.policy = &a->policy;
	if (tl_links_set_policy(&a->links, &a->policy))
		log_error("reclassifying interfaces after reload failed");
	if (attach_cgroup(a, &a->policy))
		log_error("attaching at %s failed", a->policy.attach_cgroup);
	a->reloads_ok++;
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

			if (ev->len && !strcmp(ev->name, base))
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

enum { TAG_SIGNAL, TAG_LINKS, TAG_EVENTS, TAG_CONFIG };

static int setup_loop(struct agent *a)
{
	sigset_t set;
	int err;

	sigemptyset(&set);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigprocmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	a->sigfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	a->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (a->sigfd < 0 || a->epfd < 0)
		return -errno;
	err = epoll_add(a->epfd, a->sigfd, TAG_SIGNAL);
	if (!err)
		err = epoll_add(a->epfd, a->links.fd, TAG_LINKS);
	if (!err)
		err = epoll_add(a->epfd, tl_events_fd(&a->events), TAG_EVENTS);
	if (!err && !watch_config(a))
		err = epoll_add(a->epfd, a->inofd, TAG_CONFIG);
	return err;
}

/* Returns when SIGTERM or SIGINT arrives. */
static void loop(struct agent *a)
{
	struct epoll_event evs[8];
	struct signalfd_siginfo si;

	for (;;) {
		int n = epoll_wait(a->epfd, evs, 8, -1);

		if (n < 0 && errno != EINTR) {
			log_error("epoll: %s", strerror(errno));
			return;
		}
		for (int i = 0; i < n; i++) {
			switch (evs[i].data.u32) {
			case TAG_SIGNAL:
				while (read(a->sigfd, &si, sizeof(si)) ==
				       sizeof(si)) {
					if (si.ssi_signo != SIGHUP)
						return;
					log_info("SIGHUP: reloading %s",
						 a->opt.config);
					reload(a);
				}
				break;
			case TAG_LINKS:
				if (tl_links_handle(&a->links))
					log_error("following interfaces failed");
				break;
			case TAG_EVENTS:
				tl_events_drain(&a->events);
				break;
			case TAG_CONFIG:
				if (config_changed(a)) {
					log_info("%s changed: reloading",
						 a->opt.config);
					reload(a);
				}
				break;
			}
		}
	}
}

static int start_agent(struct agent *a)
{
	int err;

	if (tl_policy_load(a->opt.config, &a->policy, stderr))
		return -EINVAL;
	err = tl_cgroup_mount(a->cg_mount, sizeof(a->cg_mount));
	if (err) {
		log_error("no cgroup2 mount found in /proc/self/mounts (`ip "
			  "netns exec` remounts /sys and hides it: use "
			  "`nsenter --net=/run/netns/NAME` instead)");
		return err;
	}
	err = tl_bpf_load(&a->bpf, a->opt.pin_dir);
	if (err)
		return err;
	if (a->bpf.adopted)
		log_info("adopting the pinned state in %s", a->opt.pin_dir);
	err = record_agent(a);
	if (err)
		return err;
	/* Policy, then interfaces (tunnels known, TC attached), then the
	 * cgroup programs: each program sees a complete state when it runs. */
	err = apply(a, &a->policy);
	if (err)
		return err;
	err = tl_links_open(&a->links, &a->bpf, &a->policy);
	if (err) {
		log_error("following interfaces: %s", strerror(-err));
		return err;
	}
	err = attach_cgroup(a, &a->policy);
	if (err)
		return err;
	err = tl_events_open(&a->events, tl_bpf_map_fd(&a->bpf, TL_MAP_EVENTS),
			     stdout, a->cg_mount);
	if (err)
		return err;
	a->events.policy = &a->policy;
	return setup_loop(a);
}

static int cmd_run(int argc, char **argv)
{
	struct agent *a = calloc(1, sizeof(*a));
	int err;

	if (!a)
		return 1;
	a->links.fd = a->sigfd = a->epfd = a->inofd = -1;
	err = parse_options(argc, argv, "cpv", usage_run, &a->opt);
	if (err) {
		free(a);
		return err;
	}
	if (a->opt.verbose)
		tl_log_threshold = TL_LOG_DEBUG;
	tl_log_setup_libbpf();
	err = start_agent(a);
	if (!err) {
		log_info("enforcing; events follow on stdout");
		loop(a);
		tl_events_drain(&a->events);
		log_info("exiting; enforcement stays pinned in %s "
			 "(`tunlock stop` removes it)",
			 a->opt.pin_dir);
	}
	tl_events_close(&a->events);
	tl_links_close(&a->links);
	tl_bpf_close(&a->bpf);
	tl_policy_free(&a->policy);
	free(a);
	return err ? 1 : 0;
}

static const struct command {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *usage;
} commands[] = {
	{ "check", cmd_check, usage_check },
	{ "run", cmd_run, usage_run },
	{ "status", cmd_status, usage_status },
	{ "stop", cmd_stop, usage_stop },
};

int main(int argc, char **argv)
{
	const char *name = argc > 1 ? argv[1] : NULL;

	if (!name || !strcmp(name, "-h") || !strcmp(name, "--help")) {
		fputs(usage_main, name ? stdout : stderr);
		return name ? 0 : 2;
	}
	if (!strcmp(name, "--version")) {
		printf("tunlock %s\n", TL_VERSION);
		return 0;
	}
	if (!strcmp(name, "help")) {
		for (size_t i = 0; argc > 2 && i < 4; i++)
			if (!strcmp(argv[2], commands[i].name)) {
				fputs(commands[i].usage, stdout);
				return 0;
			}
		fputs(usage_main, stdout);
		return 0;
	}
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (!strcmp(name, commands[i].name))
			return commands[i].fn(argc - 1, argv + 1);
	fprintf(stderr, "tunlock: unknown command '%s'\n\n%s", name,
		usage_main);
	return 2;
}
