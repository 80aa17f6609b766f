// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * tunlock: the command line. Each command is one row of `commands`: its
 * name, handler, summary, description, exit status and options; the
 * usage texts and getopt_long's arrays are made from these rows. The
 * agent itself (`run`, `apply`) is in daemon.c.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon.h"
#include "feed.h"
#include "pins.h"
#include "policy.h"
#include "selftest.h"
#include "status.h"
#include "version.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* Usage layout: where option help starts, and the synopsis' width. */
#define HELP_COLUMN 22
#define SUMMARY_COLUMN 12 /* where `tunlock --help` starts a summary */
#define SYNOPSIS_WIDTH 79
#define MAX_OPTS 8

/* One option: how it is spelt, its help, and what it sets. */
struct cli_opt {
	const char *name;   /* --name */
	char short_name;    /* -x, or 0 */
	const char *arg;    /* the argument's name, NULL for a flag */
	const char *help;   /* lines after the first are indented */
	/* where it goes: a flag sets a bool, an argument a string... */
	size_t off;
	/* ...unless it is parsed: -1 (after saying why) is a usage error */
	int (*parse)(struct tl_run_opts *o, const char *arg);
};

#define AT(field) offsetof(struct tl_run_opts, field)

static int set_option(const struct cli_opt *x, struct tl_run_opts *o,
		      const char *arg)
{
	if (x->parse)
		return x->parse(o, arg);
	if (x->arg)
		*(const char **)((char *)o + x->off) = arg;
	else
		*(bool *)((char *)o + x->off) = true;
	return 0;
}

static int set_format(struct tl_run_opts *o, const char *arg)
{
	if (!tl_feed_format_parse(arg, &o->format))
		return 0;
	fprintf(stderr, "tunlock: --events-format must be tunlock or ecs, not "
			"'%s'\n",
		arg);
	return -1;
}

static int set_interval(struct tl_run_opts *o, const char *arg)
{
	unsigned long v;
	char *end;

	errno = 0;
	v = strtoul(arg, &end, 10);
	if (!errno && *arg && !*end && v >= 1 && v <= TL_MAX_INTERVAL) {
		o->interval = v;
		return 0;
	}
	fprintf(stderr, "tunlock: --interval must be 1-%d seconds, not '%s'\n",
		TL_MAX_INTERVAL, arg);
	return -1;
}

static const struct cli_opt opt_config = {
	.name = "config", .short_name = 'c', .arg = "FILE",
	.help = "policy file (default " TL_DEFAULT_CONFIG ")",
	.off = AT(config),
};
static const struct cli_opt opt_pin_dir = {
	.name = "pin-dir", .arg = "DIR",
	.help = "bpffs directory (default " TL_DEFAULT_PIN_DIR ")",
	.off = AT(pin_dir),
};
static const struct cli_opt opt_json = {
	.name = "json", .help = "one JSON object instead of text",
	.off = AT(json),
};
static const struct cli_opt opt_verbose = {
	.name = "verbose", .short_name = 'v',
	.help = "debug logging, libbpf's included", .off = AT(verbose),
};
static const struct cli_opt opt_events = {
	.name = "events", .arg = "FILE",
	.help = "append the event feed to FILE (default: stdout)",
	.off = AT(events),
};
static const struct cli_opt opt_format = {
	.name = "events-format", .arg = "tunlock|ecs",
	.help = "the feed's schema (docs/events.md; default\n"
		"tunlock), or Elastic Common Schema documents",
	.parse = set_format,
};
static const struct cli_opt opt_metrics = {
	.name = "metrics", .arg = "FILE",
	.help = "write Prometheus metrics to FILE (atomically,\n"
		"for node_exporter's textfile collector)",
	.off = AT(metrics),
};
static const struct cli_opt opt_interval = {
	.name = "interval", .arg = "SECONDS",
	.help = "how often metrics and the summary of suppressed\n"
		"or lost events are written (default 30); the\n"
		"agent's only periodic wake-up",
	.parse = set_interval,
};
static const struct cli_opt opt_profile = {
	.name = "profile", .arg = "NAME",
	.help = "try with this profile of the applied policy\n"
		"(default: the attach cgroup's)",
	.off = AT(profile),
};
/* Every command has it; parse_options answers it. */
static const struct cli_opt opt_help = {
	.name = "help", .short_name = 'h', .help = "this text",
};

static int cmd_check(const struct tl_run_opts *o)
{
	struct tl_policy p;

	if (tl_policy_load(o->config, &p, stderr))
		return 1;
	printf("%s: ok (%zu tunnel%s, %zu profile%s, %zu cgroup rule%s)\n",
	       o->config, p.ntunnels, p.ntunnels == 1 ? "" : "s", p.nprofiles,
	       p.nprofiles == 1 ? "" : "s", p.ncgroups,
	       p.ncgroups == 1 ? "" : "s");
	tl_policy_free(&p);
	return 0;
}

static int cmd_status(const struct tl_run_opts *o)
{
	return tl_status(o->pin_dir, o->json, stdout);
}

static int cmd_reload(const struct tl_run_opts *o)
{
	unsigned int pid = tl_pins_agent(o->pin_dir);

	if (!pid) {
		fprintf(stderr, "tunlock: no agent keeps %s\n", o->pin_dir);
		return 1;
	}
	if (kill(pid, SIGHUP)) {
		fprintf(stderr, "tunlock: signalling pid %u: %s\n", pid,
			strerror(errno));
		return 1;
	}
	printf("asked the agent (pid %u) to reload\n", pid);
	return 0;
}

static int cmd_stop(const struct tl_run_opts *o)
{
	if (!tl_pins_exist(o->pin_dir) && access(o->pin_dir, F_OK)) {
		printf("nothing pinned at %s\n", o->pin_dir);
		return 0;
	}
	if (tl_pins_remove(o->pin_dir))
		return 1;
	printf("stopped: enforcement removed, %s unpinned\n", o->pin_dir);
	return 0;
}

struct command {
	const char *name;
	/* the exit status; NULL: `help`, which main answers */
	int (*fn)(const struct tl_run_opts *o);
	const char *summary; /* for `tunlock --help`; lines after the first
				are indented */
	const char *doc;     /* what it does, for `tunlock CMD --help` */
	const char *exits;   /* its exit status, likewise */
	/* a longer list does not compile; the first NULL ends a shorter one */
	const struct cli_opt *opts[MAX_OPTS];
};

static const struct command commands[] = {
	{
		.name = "check",
		.fn = cmd_check,
		.summary = "validate a policy file",
		.doc = "Validates the policy without touching the kernel. "
		       "Prints every\n"
		       "problem as FILE:LINE:COL: message on stderr.\n",
		.exits = "0 valid, 1 invalid, 2 usage error.\n",
		.opts = { &opt_config },
	},
	{
		.name = "run",
		.fn = tl_daemon_run,
		.summary = "load, pin and attach the policy, then follow "
			   "tunnels and\n"
			   "interfaces and stream leak events",
		.doc = "Loads the BPF programs, pins their maps and links "
		       "under DIR (0700),\n"
		       "applies the policy, attaches the socket and "
		       "cgroup_skb programs at the\n"
		       "policy's attach_cgroup and the TC egress filter to "
		       "every non-tunnel\n"
		       "interface of this network namespace, then follows "
		       "interfaces and\n"
		       "tunnels over rtnetlink and writes one JSON object per "
		       "leak event to\n"
		       "stdout. Pins from an earlier agent are adopted "
		       "without a moment\n"
		       "without enforcement. Logs go to stderr.\n"
		       "\n"
		       "Signals: SIGHUP reloads the policy (so does a change "
		       "of the file);\n"
		       "a policy that does not check leaves the running one "
		       "in force.\n"
		       "SIGUSR1 reopens the events file (after logrotate "
		       "moved it).\n"
		       "SIGTERM and SIGINT end the agent; enforcement stays "
		       "pinned until\n"
		       "`tunlock stop`. Under systemd (Type=notify) it says "
		       "READY=1 once\n"
		       "enforcing, RELOADING=1 during a reload.\n",
		.exits = "0 after a signal, 1 when the policy or the kernel\n"
			 "refuses, 2 usage error.\n",
		.opts = { &opt_config, &opt_pin_dir, &opt_events, &opt_format,
			  &opt_metrics, &opt_interval, &opt_verbose },
	},
	{
		.name = "apply",
		.fn = tl_daemon_apply,
		.summary = "load, pin and attach the policy, then exit (early "
			   "boot;\n"
			   "`run` takes over without a gap)",
		.doc = "Checks the policy, loads and pins the BPF programs "
		       "and maps, applies\n"
		       "the policy, attaches the cgroup programs and the TC "
		       "egress filter of\n"
		       "every non-tunnel interface that exists now, and "
		       "exits: the same pinned\n"
		       "state `run` makes, for early boot before any network "
		       "is up.\n"
		       "Interfaces that appear later are guarded for local "
		       "sockets at once\n"
		       "(cgroup_skb takes an unknown interface for a "
		       "non-tunnel one) and get\n"
		       "their TC filter when `run` starts; a tunnel is usable "
		       "once `run`\n"
		       "knows it. `run` adopts the pins without a gap.\n",
		.exits = "0 applied, 1 when the policy or the kernel refuses "
			 "(or\n"
			 "an agent runs: reload it with SIGHUP instead), 2 "
			 "usage error.\n",
		.opts = { &opt_config, &opt_pin_dir, &opt_verbose },
	},
	{
		.name = "reload",
		.fn = cmd_reload,
		.summary = "ask the running agent to reload its policy",
		.doc = "Asks the agent that keeps DIR's pins to reload its "
		       "policy (SIGHUP):\n"
		       "for ExecReload= and for scripts. A policy that does "
		       "not check is\n"
		       "logged by the agent and leaves the running one in "
		       "force.\n",
		.exits = "0 asked, 1 no agent runs, 2 usage error.\n",
		.opts = { &opt_pin_dir },
	},
	{
		.name = "status",
		.fn = cmd_status,
		.summary = "show what is enforced, from the pinned objects "
			   "alone",
		.doc = "Shows, from the pinned objects alone (no agent "
		       "needed): policy mode\n"
		       "and generation, the agent's pid, the cgroup links, "
		       "tunnels and their\n"
		       "state, interfaces and their role, counters per layer, "
		       "reason and\n"
		       "verdict, and which leak classes this kernel lets "
		       "tunlock cover.\n",
		.exits = "0 enforcing, 1 not enforcing or nothing pinned, 2 "
			 "usage\n"
			 "error, 3 degraded (cgroup link pins missing or "
			 "detached, or the\n"
			 "cgroup table full).\n",
		.opts = { &opt_json, &opt_pin_dir },
	},
	{
		.name = "selftest",
		.fn = tl_selftest,
		.summary = "try every leak class once and say which leak",
		.doc = "From a transient child cgroup of the attach cgroup "
		       "(removed after),\n"
		       "tries each leak class once: a socket bound to each "
		       "guarded interface\n"
		       "(bypass, IPv6, STUN), a query to each resolver "
		       "resolv.conf and\n"
		       "systemd-resolved name outside the tunnel, the VPN "
		       "server from a\n"
		       "process that is not its client, raw and packet "
		       "sockets; and test runs\n"
		       "of the pinned TC programs: a protected process's "
		       "packet on the uplink\n"
		       "(tunnel down), one with no socket (forwarded), one "
		       "to a tunnel address\n"
		       "from the LAN (inbound). Probes go to documentation "
		       "addresses\n"
		       "and a name under .invalid. A class whose stopping "
		       "layer is not\n"
		       "attached fails.\n"
		       "Prints pass, fail or skip per class with the reason, "
		       "and the feed's\n"
		       "selftest line on stderr.\n",
		.exits = "0 every applicable class passed, 1 a class failed "
			 "(or\n"
			 "nothing is pinned, or audit mode), 2 usage error.\n",
		.opts = { &opt_pin_dir, &opt_json, &opt_metrics,
			  &opt_profile },
	},
	{
		.name = "stop",
		.fn = cmd_stop,
		.summary = "detach and unpin everything (the way back to "
			   "normal)",
		.doc = "Ends a running agent, detaches every cgroup link and "
		       "TC filter and\n"
		       "removes the pins: traffic flows as if tunlock had "
		       "never run. Run it\n"
		       "in the network namespace the agent ran in.\n",
		.exits = "0 done (also when nothing was pinned), 1 on error.\n",
		.opts = { &opt_pin_dir },
	},
	{
		.name = "help",
		.summary = "show this text, or `tunlock help COMMAND`",
	},
};

static size_t nopts(const struct command *c)
{
	size_t n = 0;

	while (n < MAX_OPTS && c->opts[n])
		n++;
	return n;
}

/* text, its lines after the first indented by indent columns */
static void put_indented(const char *text, int indent, FILE *f)
{
	for (const char *s = text; *s; s++) {
		fputc(*s, f);
		if (*s == '\n' && s[1])
			fprintf(f, "%*s", indent, "");
	}
}

static void usage_main(FILE *f)
{
	fputs("Usage: tunlock COMMAND [OPTIONS]\n"
	      "\n"
	      "Keeps this machine's traffic inside its VPN tunnel, enforced "
	      "in the\n"
	      "kernel by eBPF programs that stay pinned when the agent "
	      "exits.\n"
	      "\n"
	      "Commands:\n",
	      f);
	for (size_t i = 0; i < ARRAY_SIZE(commands); i++) {
		fprintf(f, "  %-*s", SUMMARY_COLUMN - 2, commands[i].name);
		put_indented(commands[i].summary, SUMMARY_COLUMN, f);
		fputc('\n', f);
	}
	fputs("\nRun `tunlock COMMAND --help` for the options of a command.\n",
	      f);
}

/* "Usage: tunlock CMD [-c FILE] [--json] ...", wrapped under its first [ */
static void usage_synopsis(const struct command *c, FILE *f)
{
	int indent = fprintf(f, "Usage: tunlock %s", c->name) + 1;
	int col = indent - 1;

	for (size_t i = 0; i < nopts(c); i++) {
		const struct cli_opt *o = c->opts[i];
		char item[64];
		int n;

		if (o->short_name)
			n = snprintf(item, sizeof(item), "[-%c", o->short_name);
		else
			n = snprintf(item, sizeof(item), "[--%s", o->name);
		n += snprintf(item + n, sizeof(item) - n, "%s%s]",
			      o->arg ? " " : "", o->arg ? o->arg : "");
		if (col + 1 + n > SYNOPSIS_WIDTH)
			col = fprintf(f, "\n%*s", indent, "") - 1;
		else
			col += fprintf(f, " ");
		col += fprintf(f, "%s", item);
	}
	fputc('\n', f);
}

/* "  -c, --config FILE   policy file ...": help under one column */
static void usage_option(const struct cli_opt *o, FILE *f)
{
	int n;

	if (o->short_name)
		n = fprintf(f, "  -%c, --%s", o->short_name, o->name);
	else
		n = fprintf(f, "      --%s", o->name);
	if (o->arg)
		n += fprintf(f, " %s", o->arg);
	if (n > HELP_COLUMN - 2)
		fprintf(f, "\n%*s", HELP_COLUMN, "");
	else
		fprintf(f, "%*s", HELP_COLUMN - n, "");
	put_indented(o->help, HELP_COLUMN, f);
	fputc('\n', f);
}

static void usage_command(const struct command *c, FILE *f)
{
	usage_synopsis(c, f);
	fprintf(f, "\n%s\n", c->doc);
	for (size_t i = 0; i < nopts(c); i++)
		usage_option(c->opts[i], f);
	usage_option(&opt_help, f);
	fprintf(f, "\nExit status: %s", c->exits);
}

/*
 * getopt_long's arrays from the command's options: a short option's
 * value is its letter, a long-only one's 256 + its index.
 */
static int parse_options(const struct command *c, int argc, char **argv,
			 struct tl_run_opts *o)
{
	struct option longopts[MAX_OPTS + 2] = {};
	char shorts[3 * MAX_OPTS + 3] = "h";
	size_t n, len = 1;
	int v;

	for (n = 0; n < nopts(c); n++) {
		const struct cli_opt *x = c->opts[n];

		longopts[n] = (struct option){
			x->name, x->arg ? required_argument : no_argument,
			NULL, x->short_name ? x->short_name : 256 + (int)n,
		};
		if (x->short_name) {
			shorts[len++] = x->short_name;
			if (x->arg)
				shorts[len++] = ':';
		}
	}
	longopts[n] = (struct option){ "help", no_argument, NULL, 'h' };
	shorts[len] = '\0';

	*o = (struct tl_run_opts){
		.config = TL_DEFAULT_CONFIG,
		.pin_dir = TL_DEFAULT_PIN_DIR,
		.interval = TL_DEFAULT_INTERVAL,
	};
	optind = 1;
	while ((v = getopt_long(argc, argv, shorts, longopts, NULL)) != -1) {
		const struct cli_opt *x = NULL;

		if (v == 'h') {
			usage_command(c, stdout);
			exit(0);
		}
		for (size_t i = 0; i < n && !x; i++)
			if (longopts[i].val == v)
				x = c->opts[i];
		if (!x || set_option(x, o, optarg))
			goto bad;
	}
	if (optind < argc) {
		fprintf(stderr, "tunlock: unexpected argument '%s'\n",
			argv[optind]);
		goto bad;
	}
	return 0;
bad:
	usage_command(c, stderr);
	return 2;
}

static const struct command *find_command(const char *name)
{
	for (size_t i = 0; i < ARRAY_SIZE(commands); i++)
		if (!strcmp(name, commands[i].name))
			return &commands[i];
	return NULL;
}

int main(int argc, char **argv)
{
	const char *name = argc > 1 ? argv[1] : NULL;
	const struct command *c;
	struct tl_run_opts o;
	int err;

	if (!name || !strcmp(name, "-h") || !strcmp(name, "--help")) {
		usage_main(name ? stdout : stderr);
		return name ? 0 : 2;
	}
	if (!strcmp(name, "--version")) {
		printf("tunlock %s\n", TL_VERSION);
		return 0;
	}
	c = find_command(name);
	if (!c) {
		fprintf(stderr, "tunlock: unknown command '%s'\n\n", name);
		usage_main(stderr);
		return 2;
	}
	if (!c->fn) { /* help [COMMAND] */
		c = argc > 2 ? find_command(argv[2]) : NULL;
		if (c && c->fn)
			usage_command(c, stdout);
		else
			usage_main(stdout);
		return 0;
	}
	err = parse_options(c, argc - 1, argv + 1, &o);
	return err ? err : c->fn(&o);
}
