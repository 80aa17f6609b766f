// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#define _GNU_SOURCE
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <bpf/bpf.h>

#include "apply.h"
#include "cgroup.h"
#include "containers.h"
#include "log.h"
#include "netlink.h"
#include "netns.h"

/* Bounds of one scan: namespaces are few, processes many but cheap. */
#define MAX_PIDS (1 << 20)

/* ---- rtnetlink ---------------------------------------------------- */

struct read_links {
	int host_nsid;
	struct tl_ctr_ns *ns;
};

/* One link of the namespace being read: a veth to host_nsid, or a way out. */
static int on_link(void *ctx, struct nlmsghdr *h)
{
	struct read_links *r = ctx;
	struct tl_ctr_ns *ns = r->ns;
	struct tl_nl_link la;
	int err;

	if (h->nlmsg_type != RTM_NEWLINK)
		return 0;
	err = tl_nl_parse_link(h, &la);
	if (err || (la.flags & IFF_LOOPBACK))
		return err;
	/* a NIC of its own, a link into a third namespace (a veth chain), or
	 * any link into ours but a veth: a macvlan, macvtap, ipvlan or VLAN
	 * device on one of our NICs hands its frames to that NIC, marks and
	 * all, without passing through our routing */
	if (!la.kind[0] ||
	    (la.link_nsid >= 0 &&
	     (la.link_nsid != r->host_nsid || strcmp(la.kind, "veth"))))
		ns->escape = true;
	if (strcmp(la.kind, "veth") || r->host_nsid < 0 ||
	    la.link_nsid != r->host_nsid || ns->nveths >= TL_CTR_MAX_VETHS)
		return 0;
	ns->veths[ns->nveths].ifindex = la.ifindex;
	ns->veths[ns->nveths].peer = la.link;
	ns->nveths++;
	return 0;
}

/* Reads one namespace's links afresh: its veths to host_nsid, and any
 * NIC. The probe's thread does not malloc (a thread that mallocs gets an
 * arena of its own, which the agent would keep resident): the module
 * reads into its stack. */
static int read_links(struct tl_nl *nl, int host_nsid, struct tl_ctr_ns *ns)
{
	struct read_links r = {.host_nsid = host_nsid, .ns = ns};

	ns->nveths = 0;
	ns->escape = false;
	return tl_nl_dump(nl, RTM_GETLINK, on_link, &r);
}

/*
 * The links of the namespace that nl is in, with ours known by its number
 * there. A veth made with its far end here numbers our namespace here
 * only when one of its links is reported to someone: a read before that
 * saw our veth as a link into an unknown namespace (a way out) and was
 * kept until the next veth change on our side. A dump reports them all,
 * so the number exists after the first one: the second read uses it.
 */
static int read_links_numbered(struct tl_nl *nl, int self_ns,
			       struct tl_ctr_ns *ns)
{
	int host_nsid = tl_nl_nsid(nl, self_ns);
	int err = read_links(nl, host_nsid, ns);

	if (err || host_nsid >= 0)
		return err;
	host_nsid = tl_nl_nsid(nl, self_ns);
	if (host_nsid < 0)
		return 0; /* no link of ours here */
	return read_links(nl, host_nsid, ns);
}

/* ---- entering a namespace ----------------------------------------- */

struct probe {
	struct tl_ctr_ns *ns;
	int self_ns;
	int err;
};

/*
 * Runs in a thread of its own: setns() moves only the calling thread, so
 * the agent never leaves its namespace, whatever happens here.
 */
static void *probe_thread(void *arg)
{
	struct probe *p = arg;
	struct tl_nl nl;
	int fd;

	fd = open(p->ns->path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || setns(fd, CLONE_NEWNET)) {
		p->err = -errno;
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	close(fd);
	p->ns->cookie = tl_netns_cookie();
	p->err = tl_nl_open(&nl, 0, 0);
	if (p->err)
		return NULL;
	p->err = read_links_numbered(&nl, p->self_ns, p->ns);
	tl_nl_close(&nl);
	return NULL;
}

static int probe_ns(struct tl_containers *c, struct tl_ctr_ns *ns)
{
	struct probe p = {.ns = ns, .self_ns = c->self_ns};
	pthread_t t;
	int err;

	ns->nveths = 0; /* what a probe that cannot enter leaves */
	ns->escape = false;
	err = pthread_create(&t, NULL, probe_thread, &p);
	if (err)
		return -err;
	pthread_join(t, NULL);
	ns->probed = !p.err && ns->cookie;
	return p.err;
}

/* ---- scanning ------------------------------------------------------ */

static struct tl_ctr_ns *find_ino(struct tl_containers *c, uint64_t ino)
{
	for (size_t i = 0; i < c->nns; i++)
		if (c->ns[i].ino == ino)
			return &c->ns[i];
	return NULL;
}

/* The arrays grow as namespaces are found: a host without containers
 * keeps them small. */
static bool grow_ns(struct tl_containers *c)
{
	size_t cap = c->cap ? c->cap * 2 : 16;
	struct tl_ctr_ns *v;

	if (c->nns < c->cap)
		return true;
	if (cap > TL_CTR_MAX_NS)
		return false;
	v = realloc(c->ns, cap * sizeof(*v));
	if (!v)
		return false;
	c->ns = v;
	c->cap = cap;
	return true;
}

static struct tl_ctr_ns *add_ns(struct tl_containers *c, const char *path,
				uint64_t ino)
{
	struct tl_ctr_ns *ns = find_ino(c, ino);

	if (ns || !grow_ns(c))
		return ns;
	ns = &c->ns[c->nns++];
	memset(ns, 0, sizeof(*ns));
	ns->ino = ino;
	ns->nsid = -1;
	snprintf(ns->path, sizeof(ns->path), "%s", path);
	return ns;
}

/* The deepest cgroup that holds both a and b: a becomes it. */
static void common_cgroup(char *a, size_t len, const char *b)
{
	size_t i = 0, last = 1;

	if (!a[0]) {
		snprintf(a, len, "%s", b);
		return;
	}
	while (a[i] && a[i] == b[i]) {
		if (a[i] == '/')
			last = i ? i : 1;
		i++;
	}
	if (!a[i] && (!b[i] || b[i] == '/'))
		return; /* a is b or an ancestor of it */
	if (!b[i] && a[i] == '/')
		last = i ? i : 1;
	a[last] = '\0';
}

/* The cgroup2 path of pid, from its "0::" line. */
static int pid_cgroup(const char *pid, char *buf, size_t len)
{
	char path[64], line[512];
	FILE *f;
	int found = -1;

	snprintf(path, sizeof(path), "/proc/%.16s/cgroup", pid);
	f = fopen(path, "re");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, "0::", 3))
			continue;
		line[strcspn(line, "\n")] = '\0';
		if (strlen(line + 3) < len) { /* else too deep to name */
			memcpy(buf, line + 3, strlen(line + 3) + 1);
			found = 0;
		}
		break;
	}
	fclose(f);
	return found;
}

static void scan_named(struct tl_containers *c, const char *dir, uint64_t self)
{
	char path[64];
	struct dirent *e;
	DIR *d = opendir(dir);
	uint64_t ino;

	if (!d)
		return;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.' ||
		    snprintf(path, sizeof(path), "%s/%s", dir, e->d_name) >=
			(int)sizeof(path))
			continue;
		ino = tl_path_ino(path);
		if (ino && ino != self)
			add_ns(c, path, ino);
	}
	closedir(d);
}

/* cg is the attach cgroup or below it. */
static bool below_attach(const struct tl_containers *c, const char *cg)
{
	size_t n = strlen(c->attach);

	if (n == 1 && c->attach[0] == '/')
		return true;
	return n && !strncmp(cg, c->attach, n) && (cg[n] == '/' || !cg[n]);
}

/*
 * Every process's namespace, and the common cgroup of each's processes.
 * Those below the attach cgroup decide where there are any: a process of
 * the host that only passes through (`ip -n`, a CNI plugin making the
 * veth) would otherwise widen the cgroup past the attach cgroup, and the
 * host's TC would take the container's forwarded traffic for unprotected.
 * A process outside that stays is judged at the host with the container's
 * profile: fail closed.
 */
static void scan_pids(struct tl_containers *c, uint64_t self)
{
	char path[64], cg[256];
	struct tl_ctr_ns *ns;
	struct dirent *e;
	DIR *d = opendir("/proc");
	uint64_t ino;
	int n = 0;

	if (!d)
		return;
	while ((e = readdir(d)) && n++ < MAX_PIDS) {
		if (!isdigit((unsigned char)e->d_name[0]))
			continue;
		snprintf(path, sizeof(path), "/proc/%.16s/ns/net", e->d_name);
		ino = tl_path_ino(path);
		if (!ino || ino == self)
			continue;
		ns = add_ns(c, path, ino);
		if (!ns || pid_cgroup(e->d_name, cg, sizeof(cg)))
			continue;
		if (below_attach(c, cg))
			common_cgroup(ns->cgroup, sizeof(ns->cgroup), cg);
		else
			common_cgroup(ns->outside, sizeof(ns->outside), cg);
	}
	closedir(d);
	for (size_t i = 0; i < c->nns; i++)
		if (!c->ns[i].cgroup[0])
			memcpy(c->ns[i].cgroup, c->ns[i].outside,
			       sizeof(c->ns[i].cgroup));
}

void tl_containers_stale(struct tl_containers *c)
{
	c->stale = true;
}

/*
 * What the last scan read from inside ns, when nothing changed since: a
 * new namespace, or one whose interfaces changed, comes with a link
 * change in ours (its veth), which makes everything stale.
 */
static bool reuse_probe(struct tl_containers *c, struct tl_ctr_ns *ns)
{
	for (size_t i = 0; !c->stale && i < c->nprev; i++) {
		const struct tl_ctr_ns *o = &c->prev[i];

		if (o->ino != ns->ino || !o->probed || o->nsid != ns->nsid)
			continue;
		ns->cookie = o->cookie;
		ns->escape = o->escape;
		ns->nveths = o->nveths;
		memcpy(ns->veths, o->veths, sizeof(ns->veths));
		ns->probed = true;
		return true;
	}
	return false;
}

int tl_containers_scan(struct tl_containers *c)
{
	uint64_t self = tl_netns_ino();
	size_t cap = c->prev_cap;
	struct tl_ctr_ns *t;
	int fd;

	t = c->prev;
	c->prev = c->ns;
	c->prev_cap = c->cap;
	c->nprev = c->nns;
	c->ns = t;
	c->cap = cap;
	c->nns = 0;
	scan_named(c, "/run/netns", self);
	scan_named(c, "/run/docker/netns", self);
	scan_pids(c, self);
	for (size_t i = 0; i < c->nns; i++) {
		struct tl_ctr_ns *ns = &c->ns[i];

		fd = open(ns->path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue; /* gone meanwhile */
		ns->nsid = tl_nl_nsid(&c->nl, fd);
		close(fd);
		/* only namespaces linked to ours have an id: the rest do
		 * not concern us, and are not entered */
		if (ns->nsid < 0 || reuse_probe(c, ns))
			continue;
		if (probe_ns(c, ns))
			log_debug("reading namespace %s failed", ns->path);
	}
	c->stale = false;
	return 0;
}

/* ---- ports --------------------------------------------------------- */

static uint32_t port_of(struct tl_containers *c, int ifindex)
{
	for (uint32_t i = 1; i < TL_MAX_PORTS; i++)
		if (c->ports[i] == ifindex)
			return i;
	return 0;
}

static uint32_t port_alloc(struct tl_containers *c, int ifindex)
{
	uint32_t i = port_of(c, ifindex);

	if (i > c->max_port) {
		tl_containers_release(c, ifindex); /* not in the mark's bits */
		i = 0;
	}
	for (i = i ? i : 1; i <= c->max_port; i++) {
		if (c->ports[i] == ifindex || !c->ports[i]) {
			c->ports[i] = ifindex;
			return i;
		}
	}
	return 0;
}

/* The container-side entry of port idx, if it has one. */
static void drop_nsif(struct tl_containers *c, uint32_t idx)
{
	struct tl_nsif_key key = {
	    .netns_cookie = c->nsifs[idx].cookie,
	    .ifindex = c->nsifs[idx].ifindex,
	};

	if (key.netns_cookie &&
	    !bpf_map_delete_elem(tl_bpf_map_fd(c->bpf, TL_MAP_NSIFS), &key))
		tl_bump_verdicts(c->bpf); /* logged */
	memset(&c->nsifs[idx], 0, sizeof(c->nsifs[idx]));
}

/* Ancestor ids of the cgroup rel, as bpf_skb_ancestor_cgroup_id gives them. */
static int fill_ancestors(const char *mount, const char *rel, struct tl_port *p)
{
	char prefix[256];
	int level = tl_cgroup_level(rel), l = 0;
	size_t len = strlen(rel);
	uint64_t id;

	if (tl_cgroup_id(mount, rel, &id))
		return -ENOENT;
	p->cgroup_id = id;
	p->level =
	    level < TL_MAX_CGROUP_DEPTH ? level : TL_MAX_CGROUP_DEPTH - 1;
	for (size_t end = 0; end <= len && l <= (int)p->level; end++) {
		if (end && end < len && rel[end] != '/')
			continue;
		if (end == 1 && len == 1)
			continue; /* "/" is level 0, done */
		snprintf(prefix, sizeof(prefix), "%.*s", end ? (int)end : 1,
			 rel);
		if (tl_cgroup_id(mount, prefix, &id))
			return -ENOENT;
		p->ancestors[l++] = id;
	}
	return 0;
}

static int write_port(struct tl_containers *c, uint32_t idx, int ifindex,
		      int master, const struct tl_ctr_ns *ns, int peer)
{
	struct tl_nsif_key key = {.netns_cookie = ns->cookie, .ifindex = peer};
	struct tl_nsif val = {.port = idx};
	struct tl_port p = {
	    .ifindex = ifindex,
	    .master = master,
	    .netns_cookie = ns->cookie,
	    .peer = peer,
	};

	if (fill_ancestors(c->cg_mount, ns->cgroup, &p))
		return -ENOENT;
	/* the veth moved to another namespace: its old entry goes first */
	if (c->nsifs[idx].cookie != ns->cookie || c->nsifs[idx].ifindex != peer)
		drop_nsif(c, idx);
	c->nsifs[idx].cookie = ns->cookie;
	c->nsifs[idx].ifindex = peer;
	if (bpf_map_update_elem(tl_bpf_map_fd(c->bpf, TL_MAP_PORTS), &idx, &p,
				BPF_ANY) ||
	    bpf_map_update_elem(tl_bpf_map_fd(c->bpf, TL_MAP_NSIFS), &key, &val,
				BPF_ANY))
		return -errno;
	return tl_bump_verdicts(c->bpf) ? -EIO : 0;
}

static const struct tl_ctr_ns *find_pair(struct tl_containers *c, int ifindex,
					 int nsid, int peer)
{
	for (size_t i = 0; i < c->nns; i++) {
		const struct tl_ctr_ns *ns = &c->ns[i];

		if (!ns->probed || ns->nsid != nsid)
			continue;
		for (int v = 0; v < ns->nveths; v++)
			if (ns->veths[v].ifindex == peer &&
			    ns->veths[v].peer == ifindex)
				return ns;
	}
	return NULL;
}

void tl_containers_classify(struct tl_containers *c, int ifindex, int master,
			    int nsid, int peer, struct tl_ctr_port *out)
{
	const struct tl_ctr_ns *ns = find_pair(c, ifindex, nsid, peer);
	uint32_t idx;

	memset(out, 0, sizeof(*out));
	if (!ns)
		return; /* not seen from inside: an uplink, fail closed */
	out->known = true;
	if (ns->escape) {
		log_debug("the namespace behind ifindex %d has a way out of "
			  "its own: guarded as an uplink",
			  ifindex);
		return;
	}
	out->verified = true;
	if (!ns->cgroup[0])
		return; /* no process yet: nothing to attribute */
	idx = port_alloc(c, ifindex);
	if (!idx) {
		log_warn("no container_mark index left for ifindex %d: its "
			 "forwarded traffic is judged as the host's",
			 ifindex);
		return;
	}
	if (write_port(c, idx, ifindex, master, ns, peer)) {
		log_warn("attributing ifindex %d to %s failed", ifindex,
			 ns->cgroup);
		return;
	}
	out->port = idx;
}

void tl_containers_release(struct tl_containers *c, int ifindex)
{
	uint32_t idx = port_of(c, ifindex);
	struct tl_port empty = {};

	if (!idx)
		return;
	drop_nsif(c, idx);
	if (!bpf_map_update_elem(tl_bpf_map_fd(c->bpf, TL_MAP_PORTS), &idx,
				 &empty, BPF_ANY))
		tl_bump_verdicts(c->bpf); /* logged */
	c->ports[idx] = 0;
}

void tl_containers_set_attach(struct tl_containers *c, const char *attach)
{
	snprintf(c->attach, sizeof(c->attach), "%s", attach);
}

void tl_containers_set_mark(struct tl_containers *c, uint32_t mark)
{
	uint32_t max = mark ? mark >> __builtin_ctz(mark) : 0;

	c->max_port = max < TL_MAX_PORTS ? max : TL_MAX_PORTS - 1;
}

/* Ports that an earlier agent pinned keep their indexes: the kernel stamps
 * with them while this agent starts. */
static void adopt_ports(struct tl_containers *c)
{
	int fd = tl_bpf_map_fd(c->bpf, TL_MAP_PORTS);
	struct tl_port p;

	for (uint32_t i = 1; i < TL_MAX_PORTS; i++) {
		if (bpf_map_lookup_elem(fd, &i, &p) || !p.ifindex)
			continue;
		c->ports[i] = p.ifindex;
		c->nsifs[i].cookie = p.netns_cookie;
		c->nsifs[i].ifindex = p.peer;
	}
}

void tl_containers_prune(struct tl_containers *c,
			 bool (*in_use)(void *ctx, int ifindex, uint32_t port),
			 void *ctx)
{
	for (uint32_t i = 1; i < TL_MAX_PORTS; i++)
		if (c->ports[i] && !in_use(ctx, c->ports[i], i))
			tl_containers_release(c, c->ports[i]);
}

int tl_containers_open(struct tl_containers *c, struct tl_bpf *b,
		       const char *cg_mount)
{
	int err;

	memset(c, 0, sizeof(*c));
	c->bpf = b;
	c->cg_mount = cg_mount;
	c->nl.fd = -1;
	c->self_ns = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	c->stale = true;
	err = c->self_ns < 0 ? -errno : tl_nl_open(&c->nl, 0, 0);
	if (err) {
		tl_containers_close(c);
		return err;
	}
	adopt_ports(c);
	return 0;
}

void tl_containers_close(struct tl_containers *c)
{
	if (c->self_ns >= 0)
		close(c->self_ns);
	tl_nl_close(&c->nl);
	free(c->ns);
	free(c->prev);
	c->ns = c->prev = NULL;
	c->self_ns = -1;
}
