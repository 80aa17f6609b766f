/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Structures and constants shared by the BPF programs and the agent.
 * Everything here is part of the pinned map layout: changing a struct
 * changes TL_LAYOUT_VERSION, and an agent refuses pins of another layout.
 */
#ifndef TUNLOCK_H
#define TUNLOCK_H

#ifndef __VMLINUX_H__
#include <linux/bpf.h> /* struct bpf_spin_lock */
#include <linux/types.h>
#endif

#define TL_LAYOUT_VERSION 5

#define TL_MAX_PROFILES 64
#define TL_MAX_TUNNELS 16
#define TL_MAX_TUNNEL_ADDRS 256 /* addresses of tunnel interfaces (tl_inbound) */
#define TL_MAX_PORT_RANGES 8
#define TL_MAX_ALLOW_ENTRIES 131072
#define TL_MAX_CGROUPS 16384
#define TL_MAX_ENDPOINTS 256
/* each endpoint has an exact entry and one for its address alone */
#define TL_ENDPOINT_ENTRIES (2 * TL_MAX_ENDPOINTS)
#define TL_MAX_IFACES 4096
/* Interfaces with an index below this are also kept in an array
 * (tl_iface_slots): the lookup every packet makes is then inlined, one
 * cache line, instead of a hash's call and walk. */
#define TL_IFACE_SLOTS 4096
#define TL_MAX_CGROUP_DEPTH 16
/* lines of the resolved-cgroup cache (tl_subjects; a power of two) */
#define TL_SUBJECT_CACHE 16384
#define TL_EVENTS_BYTES (1 << 20)
#define TL_MAX_DNS_PORTS 8
#define TL_MAX_RESOLVERS 32 /* over all tunnels */
/* container namespaces whose forwarded traffic is attributed (tl_ports) */
#define TL_MAX_PORTS 4096
#define TL_MAX_NSIFS 4096
/* skb->mark bits stamped on what containers forward (policy container_mark) */
#define TL_CONTAINER_MARK_DEFAULT 0xff000000u

/* Policy tables are double-buffered: the agent fills the inactive slot and
 * then flips settings.active_slot, so a packet sees one whole policy. */
#define TL_POLICY_SLOTS 2

enum tl_mode {
	TL_MODE_ENFORCE = 0,
	TL_MODE_AUDIT = 1,
};

enum tl_layer {
	TL_LAYER_SOCKET = 0,
	TL_LAYER_CGROUP_SKB,
	TL_LAYER_TC,
	TL_LAYER_LSM,
	TL_LAYER_MAX,
};

enum tl_hook {
	TL_HOOK_CONNECT4 = 0,
	TL_HOOK_CONNECT6,
	TL_HOOK_SENDMSG4,
	TL_HOOK_SENDMSG6,
	TL_HOOK_CGROUP_SKB_EGRESS,
	TL_HOOK_TC_EGRESS,
	TL_HOOK_SOCKET_CREATE,
	TL_HOOK_SOCK_CREATE, /* cgroup/sock_create: raw IP sockets */
	TL_HOOK_TC_INGRESS,  /* inbound to a tunnel address (bpf/inbound.h) */
	TL_HOOK_MAX,
};

/*
 * Why a packet or socket call got its verdict. Leak reasons come first
 * (they produce events); allow reasons after TL_ALLOW_FIRST are only counted.
 */
enum tl_reason {
	TL_REASON_NONE = 0,
	TL_REASON_TUNNEL_DOWN,
	TL_REASON_BYPASS,
	TL_REASON_DNS,
	TL_REASON_IPV6,
	TL_REASON_STUN,
	TL_REASON_RAW_SOCKET,
	TL_REASON_ENDPOINT,
	TL_REASON_MALFORMED,
	TL_REASON_DISCOVERY, /* mDNS, LLMNR, SSDP with the LAN blocked */
	TL_REASON_INBOUND, /* to a tunnel's address, arrived outside it */
	TL_ALLOW_FIRST,
	TL_ALLOW_TUNNEL = TL_ALLOW_FIRST, /* leaves through a tunnel interface */
	TL_ALLOW_TUNNEL_UP,		  /* socket call while a tunnel is up */
	TL_ALLOW_LOOPBACK,
	TL_ALLOW_ALWAYS, /* DHCP client, ARP, EAPOL, NDP subset */
	TL_ALLOW_TRANSPORT, /* VPN transport from the VPN client */
	TL_ALLOW_LAN,
	TL_ALLOW_LISTED,      /* an extra allowed destination of the profile */
	TL_ALLOW_EXEMPT,      /* cgroup exempt by policy */
	TL_ALLOW_UNPROTECTED, /* socket outside the attach cgroup */
	TL_ALLOW_NO_SOCKET,   /* forwarded / kernel traffic, policy says allow */
	TL_ALLOW_DISCOVERY,   /* mDNS, LLMNR, SSDP with the LAN allowed */
	TL_ALLOW_VIA_HOST,    /* leaves a container toward the host, which judges it */
	TL_ALLOW_CONTAINER,   /* into a container's namespace: stays on the host */
	TL_ALLOW_RAW,	      /* raw or packet socket of a profile that allows them */
	TL_REASON_MAX,
};

enum tl_verdict {
	TL_VERDICT_PASS = 0,
	TL_VERDICT_BLOCKED,
	TL_VERDICT_REDIRECTED,
	TL_VERDICT_AUDIT,
	TL_VERDICT_MAX,
};

#define TL_COUNTER_INDEX(layer, reason, verdict)                               \
	(((layer) * TL_REASON_MAX + (reason)) * TL_VERDICT_MAX + (verdict))
#define TL_COUNTERS (TL_LAYER_MAX * TL_REASON_MAX * TL_VERDICT_MAX)

/*
 * Event rate limit per leak reason, as a GCRA token bucket: one event per
 * interval_ns at the sustained rate, up to burst events at once
 * (tolerance_ns = interval_ns * (burst - 1)). interval_ns 0: no events,
 * counters only. Counters stay exact whatever the limit.
 */
#define TL_EVENT_RATE_DEFAULT 100  /* events per second per reason */
#define TL_EVENT_BURST_DEFAULT 500 /* events at once per reason */
#define TL_EVENT_RATE_MAX 1000000
#define TL_EVENT_BURST_MAX 1000000
struct tl_event_limit {
	__u64 interval_ns;
	__u64 tolerance_ns;
};

/* Rate limiter state of one reason (tl_event_rate, shared by all CPUs). */
struct tl_event_bucket {
	__u64 tat; /* theoretical arrival time, CLOCK_MONOTONIC(_COARSE) ns */
};

/* What became of the events of a reason (tl_event_stats, per CPU). */
enum tl_event_stat {
	TL_EVSTAT_EMITTED = 0,	/* on the ring buffer */
	TL_EVSTAT_SUPPRESSED,	/* over the rate limit */
	TL_EVSTAT_LOST,		/* ring buffer full */
	TL_EVSTAT_MAX,
};
#define TL_EVSTAT_INDEX(reason, stat) ((reason) * TL_EVSTAT_MAX + (stat))
#define TL_EVSTATS (TL_REASON_MAX * TL_EVSTAT_MAX)

/* Per-profile flags. DNS outside the tunnel is blocked unless a DNS flag
 * says otherwise: the zero value is the safe one. */
#define TL_PROFILE_LAN (1u << 0) /* private, link-local, ULA, multicast */
#define TL_PROFILE_IPV6_BLOCK (1u << 1) /* IPv6 not even through a tunnel */
#define TL_PROFILE_DNS_REDIRECT (1u << 2) /* to a resolver of an up tunnel */
#define TL_PROFILE_DNS_ORDINARY (1u << 3) /* DNS judged like any traffic */
#define TL_PROFILE_RAW_ALLOW (1u << 4) /* may create raw and packet sockets */
/* which allow tables hold the profile's destinations: exact addresses
 * (/32, /128: tl_allow_exact) and prefixes (tl_allow) */
#define TL_PROFILE_ALLOW_EXACT (1u << 5)
#define TL_PROFILE_ALLOW_PREFIX (1u << 6)

/* Per-cgroup entry flags. */
#define TL_CGROUP_EXEMPT (1u << 0)

/* Settings of one policy slot. */
#define TL_SETTINGS_NO_SOCKET_ALLOW (1u << 0)
/* some profile blocks IPv6 even through a tunnel: cgroup_skb must look */
#define TL_SETTINGS_IPV6_BLOCK (1u << 1)

#define TL_NAME_LEN 64

struct tl_profile {
	__u32 flags;
	char name[TL_NAME_LEN];
};

/*
 * Endpoints whose client is known by fwmark, inline in the settings: the
 * transport fast path compares against these without a hash lookup.
 */
#define TL_MAX_FAST_ENDPOINTS 8
struct tl_fast_endpoint {
	__u32 addr[4]; /* IPv4-mapped for IPv4 */
	__u32 fwmark;
	__u16 port; /* host byte order */
	__u8 protocol;
	__u8 pad;
};

/* A resolver inside a tunnel: where DNS is redirected while it is up. */
struct tl_resolver {
	__u32 addr[4]; /* IPv4-mapped for IPv4 */
	__u32 tunnel;  /* tunnel id */
};

struct tl_settings {
	__u32 generation;
	__u32 mode; /* enum tl_mode */
	__u32 flags;
	__u32 default_profile;
	__u64 attach_cgroup_id;
	__u32 attach_cgroup_level;
	__u32 nfast;
	struct tl_fast_endpoint fast[TL_MAX_FAST_ENDPOINTS];
	struct tl_profile profiles[TL_MAX_PROFILES];
	struct tl_event_limit events; /* per-reason event rate (policy `events:`) */
	/* What a DNS query is: UDP or TCP to one of these ports. */
	__u16 dns_ports[TL_MAX_DNS_PORTS]; /* host byte order */
	__u32 ndns_ports;
	__u32 nresolvers;
	struct tl_resolver resolvers[TL_MAX_RESOLVERS]; /* policy order */
	/* skb->mark bits that carry a container's port index (contiguous) */
	__u32 container_mark;
	__u32 container_shift;
};

/* The single entry of the state map: which policy slot is live. */
/* Kernel features the loader found (tl_state.features). */
#define TL_FEATURE_BPF_LSM (1u << 0)
#define TL_FEATURE_SET_RETVAL (1u << 1)
/* TC egress tells where a packet was routed (bpf_cast_to_kern_ctx) */
#define TL_FEATURE_ROUTE_PROOF (1u << 2)
/* cgroup_skb may call bpf_get_netns_cookie (else sock_create records it) */
#define TL_FEATURE_SKB_NETNS (1u << 3)

/* The single entry of the state map: which policy slot is live, and who
 * keeps it (status and stop read it from the pins alone). */
struct tl_state {
	__u32 active_slot;
	__u32 layout_version;
	__u32 agent_pid;
	__u32 features;
	__u64 netns_ino; /* network namespace the TC filters live in */
	__u64 netns_cookie; /* the same namespace: tl_ifaces' indexes are its */
	__u64 applied_ns; /* CLOCK_REALTIME of the last policy switch */
	__u32 mode;	  /* copy of the live settings, for status */
	__u32 generation;
	char attach_cgroup[256];
};

/* Nearest configured cgroup: which profile it has, whether it is exempt,
 * and which tunnels' VPN client it is (bit per tunnel id). */
struct tl_cgroup_entry {
	__u16 profile;
	__u16 flags;
	__u32 client_of;
};

/*
 * What the agent bumps whenever a cached answer may have changed
 * (tl_generation, one entry), each after the write it covers. subjects:
 * every policy switch, and every write of the live cgroup table (a cgroup
 * added or removed, tl_settings rewritten); the socket and packet layers
 * keep the nearest configured cgroup per cgroup id (tl_subjects,
 * bpf/subject.h) tagged with it, and trust an entry only while the tags
 * are equal. verdicts: whenever subjects is bumped, and after every write
 * of runtime state (interfaces, tunnels, containers' ports and interfaces,
 * the agent's namespace); the socket layer keeps each socket's last
 * allowed destination (tl_sock_verdicts, bpf/sock_verdict.h) tagged with it,
 * and each packet layer its last allowed datagram (tl_kept_skb,
 * tl_kept_tc, bpf/packet_kept.h).
 */
struct tl_generation {
	__u32 subjects;
	__u32 verdicts;
};

/*
 * What a kept verdict was judged on (the socket layer's, tl_sock_verdicts,
 * and the packet layers', tl_kept_skb and tl_kept_tc); compared whole, as
 * words.
 */
struct tl_verdict_key {
	__u32 daddr[4]; /* IPv4 kept IPv4-mapped */
	__u64 cgroup_id;
	__u32 mark;
	__u32 bound; /* packet layers: the interface it leaves by */
	__u16 dport;
	__u16 sport;
	__u8 protocol;
	__u8 pad;
	__u16 pad1;
	__u32 tag; /* the verdicts generation * TL_POLICY_SLOTS + the slot */
	__u32 pad2;
};

/* A socket's last unconnected send's verdict (socket storage,
 * tl_sock_verdicts, bpf/sock_verdict.h). Never written in place: a new
 * entry replaces it, so threads sharing the socket read it without a lock. */
struct tl_sock_verdict {
	/* unused: the layout of the map that earlier builds pinned */
	struct bpf_spin_lock lock;
	__u32 reason;
	__u64 at; /* coarse clock, when it was judged */
	__u32 profile;
	__u32 pad;
	struct tl_verdict_key key;
};

/* The packet layers that keep allows (bpf/packet_kept.h), each in a map
 * of its own: tl_kept_skb, tl_kept_tc. */
enum tl_kept_layer {
	TL_KEPT_CGROUP_SKB = 0,
	TL_KEPT_TC,
	TL_KEPT_LAYERS,
};

/* A socket's last allowed datagram at one packet layer (socket storage),
 * never written after it was made. */
struct tl_kept_allow {
	struct tl_verdict_key key;
	__u32 reason;
	__u32 pad;
	__u64 at; /* coarse clock, when it was made */
};

/* Addresses are 16 bytes everywhere; IPv4 is stored IPv4-mapped
 * (::ffff:a.b.c.d) so one table serves both families. */
struct tl_allow_key {
	__u32 prefixlen; /* 32 (profile) + 96/0 + address bits */
	__u32 profile;
	__u8 addr[16];
};

/* An exact allowed address (a /32 or /128 rule): tl_allow_key without its
 * prefix length, so that a hash answers before the trie is asked. */
struct tl_allow_exact_key {
	__u32 profile;
	__u8 addr[16];
};

struct tl_port_range {
	__u16 lo;
	__u16 hi;
	__u8 protocol; /* 0: any */
	__u8 pad[3];
};

struct tl_allow_value {
	__u32 count; /* 0: every port and protocol */
	struct tl_port_range ranges[TL_MAX_PORT_RANGES];
};

/* port 0 and protocol 0: the endpoint's address, whatever the port */
struct tl_endpoint_key {
	__u8 addr[16];
	__u16 port; /* host byte order */
	__u8 protocol;
	__u8 pad;
};

struct tl_endpoint_value {
	__u32 tunnel; /* tunnel id */
	__u32 fwmark; /* 0: fwmark not an identity */
};

/* Interface map value (runtime state, kept by the agent over rtnetlink). */
#define TL_IFACE_TUNNEL (1u << 0)
#define TL_IFACE_L3 (1u << 1) /* no link-layer header (tun, ppp, raw-ip) */
#define TL_IFACE_GUARDED (1u << 2) /* TC egress filter attached */
/* Leads only into other network namespaces of this host: the host end of a
 * veth into a container, or a bridge of nothing else. */
#define TL_IFACE_PORT (1u << 3)
/* TC ingress stamps what arrives here with the port index (attribution). */
#define TL_IFACE_STAMP (1u << 4)
struct tl_iface {
	__u32 flags;
	__u32 tunnel; /* tunnel id when TL_IFACE_TUNNEL */
	__u32 port;   /* tl_ports index when TL_IFACE_STAMP */
	__u32 pad;
};

/*
 * A container namespace reached through a veth of the agent's namespace:
 * whose traffic comes in there. Indexed by the value stamped in
 * skb->mark; index 0 is never used (no stamp).
 */
struct tl_port {
	__u32 ifindex; /* host end of the veth; 0: free */
	__u32 master;  /* its bridge, or 0 */
	__u64 netns_cookie; /* the container's namespace */
	__u64 cgroup_id;    /* common cgroup of its processes; 0: unknown */
	__u32 level;	    /* of cgroup_id */
	__u32 peer;	    /* the veth's other end, in that namespace */
	__u64 ancestors[TL_MAX_CGROUP_DEPTH]; /* [l]: ancestor at level l */
};

/* An interface of a container namespace whose veth peer is a port: its
 * traffic goes through the agent's namespace, which judges it there. */
struct tl_nsif_key {
	__u64 netns_cookie;
	__u32 ifindex; /* in that namespace */
	__u32 pad;
};

struct tl_nsif {
	__u32 port; /* tl_ports index */
	__u32 pad;
};

/* tl_inbound value: the tunnel whose interface has the address. */
struct tl_inbound_addr {
	__u32 tunnel;
	__u32 ifindex;
};

/* Tunnel map value (runtime state). */
#define TL_TUNNEL_UP (1u << 0)
#define TL_TUNNEL_IPV4 (1u << 1)
#define TL_TUNNEL_IPV6 (1u << 2)
struct tl_tunnel_state {
	__u32 flags;
	__u32 ifindex;
	char name[TL_NAME_LEN];
	char ifname[16];
};

/* Global runtime flags read by every program (index 0 of tunnel_summary). */
struct tl_tunnel_summary {
	__u32 up_count;
	__u32 ipv6_up_count;
};

/* Socket attribution recorded at socket creation. */
struct tl_sock_owner {
	__u32 pid;
	__u32 pad;
	char comm[16];
};

/*
 * The redirected DNS queries of one socket (socket-local storage, so that
 * no other socket can push them out): one record per tunnel resolver, at
 * the resolver's place in the policy, saying which server the socket's
 * query to it asked for, so that the answer's source (recvmsg) and the peer
 * (getpeername) read as that server. A socket that asks several servers at
 * once has them sent to different resolvers where the policy has them.
 */
struct tl_dns_record {
	__u32 resolver[4]; /* where the query went, IPv4-mapped for IPv4 */
	__u32 asked[4];	   /* what the application asked for */
	__u16 resolver_port; /* host byte order; 0: no record */
	__u16 asked_port;
};

struct tl_dns_records {
	struct tl_dns_record rec[TL_MAX_RESOLVERS];
};

/* tl_event.flags: a probe of `tunlock selftest` (tl_selftest), not a leak */
#define TL_EVENT_SELFTEST (1u << 0)

/*
 * What `tunlock selftest` registers in tl_selftest (written only by root
 * through the pin directory) while it runs: the id of the cgroup it made
 * for its probes, and a random token that its test runs of the TC
 * programs carry in skb->cb[0..1] (the forwarded one runs in the root
 * cgroup, which it cannot mark). Their leak verdicts are counted here, not
 * in tl_counters, and their events say selftest. A name proves nothing (a
 * delegated subtree can be named anything); the id, the token and the
 * deadline do.
 */
#define TL_MAX_SELFTESTS 64
enum tl_selftest_key {
	TL_SELFTEST_BY_CGROUP = 1,
	TL_SELFTEST_BY_TOKEN,
};
struct tl_selftest_probe {
	__u64 until_ns; /* CLOCK_BOOTTIME: ignored after, should it be left */
	__u32 kind;	/* what the key is: enum tl_selftest_key */
	__u32 pad;
	__u64 verdicts[TL_ALLOW_FIRST]; /* leak verdicts per reason */
};

struct tl_event {
	__u64 boot_ns; /* CLOCK_BOOTTIME */
	__u64 cgroup_id;
	__u32 pid;
	__u32 ifindex;
	__u32 generation;
	__u16 sport; /* host byte order */
	__u16 dport;
	__u16 profile;
	__u8 family; /* AF_INET, AF_INET6, or 0 when not IP */
	__u8 protocol;
	__u8 reason;
	__u8 verdict;
	__u8 layer;
	__u8 hook;
	__u8 tunnel_up;
	__u8 flags; /* TL_EVENT_* */
	__u8 pad[2];
	__u8 saddr[16];
	__u8 daddr[16];
	char comm[16];
	/* verdict redirected: where the query went instead of daddr/dport */
	__u8 redirect_addr[16];
	__u16 redirect_port;
	__u8 pad2[6];
};

#endif /* TUNLOCK_H */
