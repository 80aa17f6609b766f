// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "netns.h"

#ifndef SO_NETNS_COOKIE
#define SO_NETNS_COOKIE 71
#endif

uint64_t tl_path_ino(const char *path)
{
	struct stat st;

	return stat(path, &st) ? 0 : st.st_ino;
}

uint64_t tl_netns_ino(void)
{
	return tl_path_ino("/proc/self/ns/net");
}

/* A socket belongs to the namespace of the thread that makes it. */
uint64_t tl_netns_cookie(void)
{
	uint64_t cookie = 0;
	socklen_t len = sizeof(cookie);
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return 0;
	if (getsockopt(fd, SOL_SOCKET, SO_NETNS_COOKIE, &cookie, &len))
		cookie = 0;
	close(fd);
	return cookie;
}
