// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * What this kernel offers, probed at run time, never read off its version:
 * the loader chooses programs by these answers, and status says what a
 * missing feature costs (docs/compatibility.md).
 */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include "kfeatures.h"

bool tl_kernel_has_bpf_lsm(void)
{
	char lsm[512] = "";
	FILE *f = fopen("/sys/kernel/security/lsm", "r");
	bool yes;

	if (!f)
		return false;
	yes = fgets(lsm, sizeof(lsm), f) && strstr(lsm, "bpf");
	fclose(f);
	return yes;
}

bool tl_kernel_has_route_proof(void)
{
	static int yes = -1; /* the kernel's BTF is read once */
	struct btf *btf;

	if (yes >= 0)
		return yes;
	btf = btf__load_vmlinux_btf();
	yes = btf &&
	      btf__find_by_name_kind(btf, "bpf_cast_to_kern_ctx",
				     BTF_KIND_FUNC) > 0 &&
	      btf__find_by_name_kind(btf, "bpf_rdonly_cast", BTF_KIND_FUNC) > 0;
	btf__free(btf); /* NULL is fine */
	return yes;
}

/* By loading a program that calls it: libbpf 1.1's helper probe takes
 * 6.12's "program of this type cannot use helper" for support. */
bool tl_kernel_has_skb_netns(void)
{
	static int yes = -1;
	const struct bpf_insn prog[] = {
		{ .code = BPF_JMP | BPF_CALL,
		  .imm = BPF_FUNC_get_netns_cookie },
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0,
		  .imm = 1 },
		{ .code = BPF_JMP | BPF_EXIT },
	};
	int fd;

	if (yes >= 0)
		return yes;
	fd = bpf_prog_load(BPF_PROG_TYPE_CGROUP_SKB, NULL, "GPL", prog,
			   sizeof(prog) / sizeof(prog[0]), NULL);
	yes = fd >= 0;
	if (fd >= 0)
		close(fd);
	return yes;
}
