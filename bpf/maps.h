/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Every map, pinned by name under the pin directory so that all layers
 * share one instance and a restarted agent adopts them.
 *
 * Policy tables come in TL_POLICY_SLOTS slots (array of maps); tl_state
 * names the live slot. Inner maps give sizes rather than BTF types: clang
 * emits BTF only for types that globals reach, and these would be
 * forward declarations. Runtime state (interfaces, tunnels) is not slotted:
 * the agent keeps it current from rtnetlink.
 */
#ifndef TL_BPF_MAPS_H
#define TL_BPF_MAPS_H

#include "common.h"

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct tl_state);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} tl_state SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, TL_POLICY_SLOTS);
	__type(key, __u32);
	__type(value, struct tl_settings);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} tl_settings SEC(".maps");

struct tl_cgroup_table {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, TL_MAX_CGROUPS);
	__uint(key_size, sizeof(__u64));
	__uint(value_size, sizeof(struct tl_cgroup_entry));
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, TL_POLICY_SLOTS);
	__type(key, __u32);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
	__array(values, struct tl_cgroup_table);
} tl_cgroups SEC(".maps");

struct tl_allow_table {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, TL_MAX_ALLOW_ENTRIES);
	__uint(key_size, sizeof(struct tl_allow_key));
	__uint(value_size, sizeof(struct tl_allow_value));
	__uint(map_flags, BPF_F_NO_PREALLOC);
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, TL_POLICY_SLOTS);
	__type(key, __u32);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
	__array(values, struct tl_allow_table);
} tl_allow SEC(".maps");

struct tl_endpoint_table {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, TL_ENDPOINT_ENTRIES);
	__uint(key_size, sizeof(struct tl_endpoint_key));
	__uint(value_size, sizeof(struct tl_endpoint_value));
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, TL_POLICY_SLOTS);
	__type(key, __u32);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
	__array(values, struct tl_endpoint_table);
} tl_endpoints SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, TL_MAX_IFACES);
	__type(key, __u32);
	__type(value, struct tl_iface);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} tl_ifaces SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, TL_MAX_TUNNELS);
	__type(key, __u32);
	__type(value, struct tl_tunnel_state);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} tl_tunnels SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct tl_tunnel_summary);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} tl_summary SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, TL_COUNTERS);
	__type(key, __u32);
	__type(value, __u64);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} tl_counters SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, TL_EVENTS_BYTES);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} tl_events SEC(".maps");

/* Redirected DNS queries, for recvmsg and getpeername to undo: each
 * socket's own, gone with the socket. */
struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct tl_dns_records);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} tl_dns_records SEC(".maps");

/* Container namespaces, kept by the agent (runtime state, not slotted):
 * ports by the index stamped in skb->mark, and their interfaces inside. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, TL_MAX_PORTS);
	__type(key, __u32);
	__type(value, struct tl_port);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} tl_ports SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, TL_MAX_NSIFS);
	__type(key, struct tl_nsif_key);
	__type(value, struct tl_nsif);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} tl_nsifs SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct tl_sock_owner);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} tl_sock_owners SEC(".maps");

/* Event rate limiting: one bucket per reason, shared by every CPU (updated
 * with compare-and-swap), and per-CPU counts of what became of each event. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, TL_REASON_MAX);
	__type(key, __u32);
	__type(value, struct tl_event_bucket);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} tl_event_rate SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, TL_EVSTATS);
	__type(key, __u32);
	__type(value, __u64);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} tl_event_stats SEC(".maps");

#endif
