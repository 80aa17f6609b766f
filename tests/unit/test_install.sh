#!/bin/sh
# make install into a DESTDIR (never the machine itself): the files, the systemd units
# (systemd-analyze verify; never enabled or started), the man pages (groff lint), the example
# policies and the Kubernetes manifest. PASS:/FAIL:/SKIP: lines.
cd "$(dirname "$0")/../.." || exit 1
D=$(mktemp -d /tmp/tunlock-install.XXXXXX) || exit 1
trap 'rm -rf "$D"' EXIT
pass() { echo "PASS: install: $1"; }
fail() { echo "FAIL: install: $1: $2"; }

if ! out=$(make -s install PREFIX=/usr DESTDIR="$D" 2>&1); then
	fail "make install" "$(echo "$out" | tail -3 | tr '\n' ' ')"
	exit 1
fi
missing=
for f in usr/sbin/tunlock usr/lib/systemd/system/tunlock.service usr/lib/systemd/system/tunlock-apply.service \
	usr/lib/systemd/system/tunlock-selftest.service usr/lib/systemd/system/tunlock-selftest.timer \
	usr/share/man/man8/tunlock.8 usr/share/man/man5/tunlock-policy.5 \
	usr/share/doc/tunlock/examples/desktop.yaml usr/share/doc/tunlock/examples/server.yaml \
	usr/share/doc/tunlock/examples/container-host.yaml usr/share/doc/tunlock/examples/daemonset.yaml \
	usr/share/doc/tunlock/events.md usr/share/doc/tunlock/events.schema.json etc/logrotate.d/tunlock etc/tunlock; do
	[ -e "$D/$f" ] || missing="$missing $f"
done
[ -z "$missing" ] && pass "files in DESTDIR" || fail "files in DESTDIR" "missing:$missing"
[ -x "$D/usr/sbin/tunlock" ] && "$D/usr/sbin/tunlock" --version | grep -q '^tunlock ' &&
	pass "installed binary runs" || fail "installed binary runs" "no version"
grep -q 'ExecStart=/usr/sbin/tunlock run -c /etc/tunlock/policy.yaml' "$D/usr/lib/systemd/system/tunlock.service" &&
	pass "units name the installed paths" || fail "units name the installed paths" "ExecStart"

# systemd-analyze verify: the units as installed, their binary path pointed into DESTDIR
if command -v systemd-analyze >/dev/null; then
	mkdir -p "$D/verify"
	for u in tunlock.service tunlock-apply.service tunlock-selftest.service tunlock-selftest.timer; do
		sed "s|/usr/sbin/tunlock|$D/usr/sbin/tunlock|g" "$D/usr/lib/systemd/system/$u" >"$D/verify/$u"
	done
	out=$(cd "$D/verify" && MANPATH="$D/usr/share/man" systemd-analyze verify tunlock.service tunlock-apply.service \
		tunlock-selftest.service tunlock-selftest.timer 2>&1)
	rc=$?
	[ $rc -eq 0 ] && [ -z "$out" ] && pass "systemd-analyze verify" ||
		fail "systemd-analyze verify" "rc $rc: $(echo "$out" | head -4 | tr '\n' '|')"
	grep -q '^Before=network-pre.target' "$D/verify/tunlock-apply.service" &&
		grep -q '^DefaultDependencies=no' "$D/verify/tunlock-apply.service" &&
		pass "apply ordered before network-pre.target" || fail "apply ordering" "see the unit"
	grep -q '^Type=notify' "$D/verify/tunlock.service" && grep -q '^Restart=always' "$D/verify/tunlock.service" &&
		pass "agent: Type=notify, Restart=always" || fail "agent unit" "Type or Restart"
else
	echo "SKIP: install: systemd-analyze verify: no systemd-analyze (make deps)"
fi

if command -v groff >/dev/null; then
	for m in "$D/usr/share/man/man8/tunlock.8" "$D/usr/share/man/man5/tunlock-policy.5"; do
		out=$(groff -man -Tutf8 -ww -z "$m" 2>&1)
		[ -z "$out" ] && pass "man page $(basename "$m") lints clean" ||
			fail "man page $(basename "$m")" "$(echo "$out" | head -2 | tr '\n' '|')"
	done
else
	echo "SKIP: install: man pages: no groff"
fi

for f in "$D"/usr/share/doc/tunlock/examples/*.yaml; do
	case $f in */daemonset.yaml) continue ;; esac
	out=$("$D/usr/sbin/tunlock" check -c "$f" 2>&1) && [ -z "$(echo "$out" | grep -v ': ok (')" ] &&
		pass "example $(basename "$f") checks clean" || fail "example $(basename "$f")" "$(echo "$out" | head -2 | tr '\n' '|')"
done

# the DaemonSet: host network, bpffs and cgroup mounts, exactly BPF, PERFMON, NET_ADMIN
out=$(python3 - "$D/usr/share/doc/tunlock/examples/daemonset.yaml" "$D/policy.yaml" <<'PY'
import sys, yaml
docs = {d["kind"]: d for d in yaml.safe_load_all(open(sys.argv[1]))}
open(sys.argv[2], "w").write(docs["ConfigMap"]["data"]["policy.yaml"])
pod = docs["DaemonSet"]["spec"]["template"]["spec"]
c = pod["containers"][0]
sc = c["securityContext"]
mounts = {m["mountPath"] for m in c["volumeMounts"]}
hosts = {v["hostPath"]["path"] for v in pod["volumes"] if "hostPath" in v}
problems = []
if pod.get("hostNetwork") is not True: problems.append("hostNetwork")
if sc.get("privileged") or sc.get("allowPrivilegeEscalation") is not False: problems.append("privileged")
if sc["capabilities"]["drop"] != ["ALL"] or sorted(sc["capabilities"]["add"]) != ["BPF", "NET_ADMIN", "PERFMON"]:
    problems.append("capabilities %s" % sc["capabilities"])
if not {"/sys/fs/bpf", "/sys/fs/cgroup"} <= mounts or not {"/sys/fs/bpf", "/sys/fs/cgroup"} <= hosts:
    problems.append("bpffs and cgroup host mounts")
print(" ".join(problems))
PY
)
[ -z "$out" ] && pass "DaemonSet: host network, host bpffs and cgroup2, only BPF PERFMON NET_ADMIN" ||
	fail "DaemonSet" "$out"
out=$("$D/usr/sbin/tunlock" check -c "$D/policy.yaml" 2>&1) && pass "DaemonSet policy checks clean" ||
	fail "DaemonSet policy" "$(echo "$out" | head -2 | tr '\n' '|')"

# The command line: usage texts, the man page's synopsis and exit codes (2: usage error)
T="$D/usr/sbin/tunlock"
# cli NAME WANT_RC STDERR_PATTERN ARGS...: exit code WANT_RC, stderr matching the extended regex
cli() {
	name=$1 want=$2 pat=$3
	shift 3
	err=$("$T" "$@" 2>&1 >/dev/null)
	rc=$?
	[ $rc = "$want" ] && echo "$err" | grep -Eq -- "$pat" && pass "cli: $name" ||
		fail "cli: $name" "rc $rc (want $want), stderr: $(echo "$err" | head -2 | tr '\n' '|')"
}
# usage_opts: the options a usage text's synopsis names, sorted, one a line
usage_opts() { sed -n '/^Usage:/,/^$/p' | grep -Eo '\[--?[a-z-]+' | tr -d '[' | sort; }
# explained_opts: the options a usage text explains (both spellings), -h/--help left out
explained_opts() {
	grep -Eo '^ +(-[a-z], )?--[a-z-]+' | tr ',' '\n' | tr -d ' ' | grep -v -e '^-h$' -e '^--help$' | sort
}
# man_opts CMD: the options man/tunlock.8's SYNOPSIS gives CMD, likewise
man_opts() {
	sed -n "/^\.B tunlock $1\$/,/^\.\(br\|SH\|TP\)/p" "$D/usr/share/man/man8/tunlock.8" |
		grep -Eo '\\-(\\-)?[a-z\\-]+' | sed 's/\\//g' | sort
}
cmds=$("$T" --help | sed -n '/^Commands:/,/^$/s/^  \([a-z][a-z]*\) .*/\1/p' | tr '\n' ' ')
[ "$cmds" = "check run apply reload status selftest stop help " ] && pass "cli: --help lists the commands" ||
	fail "cli: --help lists the commands" "$cmds"
for c in $cmds; do
	[ "$c" = help ] && continue
	u=$("$T" "$c" --help) && h=$("$T" help "$c") && [ "$u" = "$h" ] &&
		echo "$u" | head -1 | grep -q "^Usage: tunlock $c " && echo "$u" | grep -q '^  -h, --help ' &&
		echo "$u" | grep -q '^Exit status: 0 ' && pass "cli: $c --help is its usage, as help $c" ||
		fail "cli: $c --help" "$(echo "$u" | head -1)"
	# every option of the synopsis is explained below it, and the man page's synopsis agrees
	syn=$(echo "$u" | usage_opts)
	missing=$(echo "$syn" | grep -Fxv -e "$(echo "$u" | explained_opts)")
	[ -n "$syn" ] && [ -z "$missing" ] && pass "cli: $c's options are all explained" ||
		fail "cli: $c's options" "not explained: $missing"
	[ "$syn" = "$(man_opts "$c")" ] && pass "cli: $c: man page synopsis agrees" ||
		fail "cli: $c: man page synopsis" "usage: $(echo "$syn" | tr '\n' ' '); man: $(man_opts "$c" | tr '\n' ' ')"
	cli "$c: unknown option" 2 "unrecognized option '--bogus'" "$c" --bogus
	cli "$c: unexpected argument" 2 "unexpected argument 'extra'" "$c" extra
	cli "$c: usage on stderr after an error" 2 "^Usage: tunlock $c " "$c" --bogus
done
cli "no command" 2 "^Usage: tunlock COMMAND"
cli "unknown command" 2 "unknown command 'bogus'" bogus
cli "missing argument" 2 "option requires an argument -- 'c'" check -c
cli "missing long argument" 2 "option '--pin-dir' requires an argument" status --pin-dir
cli "option of another command is named" 2 "invalid option -- 'c'" status -c x
cli "long option of another command is named" 2 "unrecognized option '--json'" check --json
cli "bad --interval" 2 "interval must be 1-86400 seconds, not '0'" run --interval 0
cli "bad --events-format" 2 "events-format must be tunlock or ecs, not 'xml'" run --events-format xml
cli "check: a missing policy file is 1" 1 "nonexistent" check -c "$D/nonexistent.yaml"
"$T" --help >/dev/null && pass "cli: --help exits 0" || fail "cli: --help" "exit $?"
