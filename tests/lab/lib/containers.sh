# shellcheck shell=bash
# tests/lab/lib/containers.sh: a container host in the client namespace: bridge, NAT,
# containers with their own namespace and cgroup, the container policy.
# Sourced by tests/lab/lib.sh (a test sources lib.sh, never this file).

# ---------------------------------------------------------------- containers
# A container host in the client namespace: bridge ctr0 100.80.0.1/24 (MAC 02:13:00:00:80:01),
# NAT out of the client (masquerade; an exempt container can get its own SNAT address on up0),
# and containers: each its own namespace <id>-c-NAME (eth0 100.80.0.N/24, default via
# 100.80.0.1, veth v-NAME on ctr0) and its own cgroup $LAB_CG/prot/ctr/CGNAME, like a runtime's
# scope. The container policy (lab_write_container_policy) gives prot/ctr/locked-* the profile
# ctr-locked, prot/ctr/rawok-* rawok (raw_sockets: allow, LAN blocked), prot/ctr/exempt-* exempt.
LAB_CTR_NET=100.80.0.0/24
LAB_CTR_GW=100.80.0.1
LAB_CTR_GW_MAC=02:13:00:00:80:01
LAB_EXEMPT_SNAT=10.213.0.3 # an exempt container's traffic leaves up0 from this address
declare -gA LAB_CTR_NS=() LAB_CTR_CG=() LAB_CTR_IP=()

lab_containers_setup() {
	[ -n "${NS_CLIENT:-}" ] || { LAB_ERR="lab_containers_setup: no lab"; return 1; }
	_lab_ns_unsafe "$NS_CLIENT" && { LAB_ERR="client netns missing or initial"; return 1; }
	_x mkdir -p "$LAB_CG/prot/ctr" || return 1
	_x ip -n "$NS_CLIENT" link add ctr0 address "$LAB_CTR_GW_MAC" type bridge || return 1
	_x ip -n "$NS_CLIENT" addr add "$LAB_CTR_GW/24" dev ctr0 || return 1
	_x ip -n "$NS_CLIENT" link set ctr0 up || return 1
	_lab_sysctl "$NS_CLIENT" net.ipv4.ip_forward=1 || return 1
	_x ip -n "$NS_CLIENT" addr add "$LAB_EXEMPT_SNAT/24" dev up0 || return 1
	cat >"$LAB_STATE/client.nft" <<NFT
table ip labctr {
	set exempt { type ipv4_addr; }
	chain post {
		type nat hook postrouting priority srcnat; policy accept;
		oifname "up0" ip saddr @exempt snat to $LAB_EXEMPT_SNAT
		oifname != "ctr0" ip saddr $LAB_CTR_NET masquerade
	}
}
NFT
	_x ip netns exec "$NS_CLIENT" nft -f "$LAB_STATE/client.nft" || return 1
	# split tunnelling for chosen containers: their source routed past the tunnel (table 213)
	_x ip -n "$NS_CLIENT" route add default via "$LAB_ROUTER_IP" dev up0 table 213 || return 1
}

# lab_container NAME CGNAME N [--no-init]: container NAME (its namespace, veth v-NAME, address
# 100.80.0.N) whose processes live in $LAB_CG/prot/ctr/CGNAME; an init process (sleep) holds it
# unless --no-init. NAME at most 8 characters.
lab_container() {
	lab_container_ns "$1" "$2" "$3" || return 1
	lab_container_link "$1" || return 1
	[ "${4:-}" = --no-init ] && return 0
	_lab_spawn "init-$1" "prot/ctr/$2" ip netns exec "${LAB_CTR_NS[$1]}" sleep "${LAB_TEST_TIMEOUT:-600}"
}

# lab_container_ns NAME CGNAME N: the container's namespace and cgroup, no network yet
lab_container_ns() {
	local name=$1 cg=$2 n=$3 ns=$LAB_ID-c-$1
	_x ip netns add "$ns" || return 1
	echo "$ns" >>"$LAB_STATE/netns"
	_lab_ns_unsafe "$ns" && { LAB_ERR="netns $ns is not a new namespace"; return 1; }
	LAB_CTR_NS[$name]=$ns LAB_CTR_CG[$name]=prot/ctr/$cg LAB_CTR_IP[$name]=100.80.0.$n
	_x ip -n "$ns" link set lo up || return 1
	_lab_sysctl "$ns" net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1 || return 1
	# ping sockets for every group, as container runtimes (Docker) set it: ping needs no raw socket
	_lab_sysctl "$ns" "net.ipv4.ping_group_range=0 2147483647" || return 1
	_x mkdir -p "$LAB_CG/prot/ctr/$cg" || return 1
}

# lab_container_link NAME: its veth to ctr0, address and default route
lab_container_link() {
	local name=$1 ns=${LAB_CTR_NS[$1]}
	_x ip -n "$NS_CLIENT" link add "v-$name" type veth peer name eth0 netns "$ns" || return 1
	_x ip -n "$ns" addr add "${LAB_CTR_IP[$name]}/24" dev eth0 || return 1
	_x ip -n "$ns" link set eth0 up || return 1
	_x ip -n "$ns" route add default via "$LAB_CTR_GW" || return 1
	_x ip -n "$NS_CLIENT" link set "v-$name" master ctr0 up || return 1
}

# in_ctr NAME cmd...: run cmd in container NAME (its namespace and cgroup)
in_ctr() {
	local name=$1 cg
	shift
	[ -n "${LAB_CTR_NS[$name]:-}" ] || { echo "lab: no container $name" >&2; return 2; }
	cg=$(lab_cg_dir "${LAB_CTR_CG[$name]}") || return 2
	_lab_netns_exec "${LAB_CTR_NS[$name]}" "$cg" "$@"
}

# lab_ctr_split NAME on|off: route container NAME's traffic past the tunnel (source rule to
# table 213, default via the ISP), as split tunnelling does; on with --snat also gives it the
# exempt SNAT address
lab_ctr_split() {
	local ip=${LAB_CTR_IP[$1]}
	if [ "$2" = on ]; then
		ip -n "$NS_CLIENT" rule add from "$ip" lookup 213 pref 100
		[ "${3:-}" = --snat ] && ip netns exec "$NS_CLIENT" nft add element ip labctr exempt "{ $ip }"
	else
		ip -n "$NS_CLIENT" rule del from "$ip" lookup 213 pref 100 2>/dev/null
		ip netns exec "$NS_CLIENT" nft delete element ip labctr exempt "{ $ip }" 2>/dev/null
	fi
	return 0
}

lab_ctr_curl() {
	local name=$1 url=$2
	shift 2
	in_ctr "$name" curl -sS -o /dev/null -w '%{http_code}' --noproxy '*' -m 5 --connect-timeout 4 "$@" "$url"
}
# lab_ctr_curl_ms NAME URL [curl args]: "CODE MS" with curl's own time, as lab_curl_ms
lab_ctr_curl_ms() {
	_lab_curl_ms "$(lab_ctr_curl "$@" -w '%{http_code} %{time_total}')"
}

# lab_write_container_policy FILE [lab_write_policy options]: the lab policy and the container
# profiles and cgroup globs
lab_write_container_policy() {
	local f=$1 tmp
	shift
	lab_write_policy "$f" "$@" || return 1
	tmp=$LAB_STATE/ctr-profiles.yaml
	{
		echo "  - name: ctr-locked"
		echo "    lan: block"
		echo "  - name: rawok"
		echo "    lan: block"
		echo "    raw_sockets: allow"
	} >"$tmp"
	sed -i "/^profiles:/r $tmp" "$f" || return 1
	{
		echo "  - path: $LAB_CGREL_PROT/ctr/locked-*"
		echo "    profile: ctr-locked"
		echo "  - path: $LAB_CGREL_PROT/ctr/rawok-*"
		echo "    profile: rawok"
		echo "  - path: $LAB_CGREL_PROT/ctr/exempt-*"
		echo "    exempt: true"
	} >>"$f"
}

# lab_agent_up_containers [lab_write_policy options]: like lab_agent_up, with the container policy
lab_agent_up_containers() {
	local out
	lab_have_agent || lab_abort "no tunlock binary at $TUNLOCK (build the agent first, or set TUNLOCK)"
	lab_write_container_policy "$LAB_STATE/policy.yaml" "$@" || lab_abort "cannot write the container policy"
	out=$(lab_tunlock check -c "$LAB_STATE/policy.yaml" 2>&1) ||
		lab_abort "tunlock check rejects the container policy: $(echo "$out" | head -3 | tr '\n' ' ')"
	lab_agent_start "$LAB_STATE/policy.yaml" || lab_abort "agent start: $LAB_ERR"
}
