// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The sender and the tunnel of bench/killswitch.
 *
 *   udp_send send ADDR PORT SECONDS   unconnected sendto() of 64-byte UDP
 *                                     datagrams to ADDR:PORT for SECONDS;
 *                                     prints "calls N ok N eperm N other N
 *                                     seconds S" (other: any other errno)
 *   udp_send tun IFNAME               attach to tun device IFNAME (made with
 *                                     `ip tuntap add`) and hold it until
 *                                     killed: the device has carrier while a
 *                                     file is attached; nobody reads, so what
 *                                     it transmits is dropped (tx_dropped)
 *
 * The clock is read once every 1024 calls, so the loop is the system call.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int send_loop(const char *addr, const char *port, const char *secs)
{
	unsigned long long calls = 0, ok = 0, eperm = 0, other = 0;
	struct sockaddr_in dst = { .sin_family = AF_INET };
	double t0, t, limit = atof(secs);
	char payload[64] = "tunlock bench";
	int fd, last_err = 0;

	dst.sin_port = htons(atoi(port));
	if (inet_pton(AF_INET, addr, &dst.sin_addr) != 1 || limit <= 0) {
		fprintf(stderr, "udp_send: bad address or duration\n");
		return 2;
	}
	fd = socket(AF_INET, SOCK_DGRAM, 0);
	if (fd < 0) {
		perror("udp_send: socket");
		return 1;
	}
	t0 = t = now_s();
	while (t - t0 < limit) {
		for (int i = 0; i < 1024; i++) {
			ssize_t n = sendto(fd, payload, sizeof(payload), 0,
					   (struct sockaddr *)&dst, sizeof(dst));

			if (n == (ssize_t)sizeof(payload))
				ok++;
			else if (errno == EPERM)
				eperm++;
			else {
				other++;
				last_err = errno;
			}
		}
		calls += 1024;
		t = now_s();
	}
	close(fd);
	printf("calls %llu ok %llu eperm %llu other %llu seconds %.4f\n",
	       calls, ok, eperm, other, t - t0);
	if (other)
		fprintf(stderr, "udp_send: last other error: %s\n",
			strerror(last_err));
	return 0;
}

static int hold_tun(const char *name)
{
	struct ifreq ifr = { .ifr_flags = IFF_TUN | IFF_NO_PI };
	int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);

	if (fd < 0) {
		perror("udp_send: /dev/net/tun");
		return 1;
	}
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	if (ioctl(fd, TUNSETIFF, &ifr)) {
		perror("udp_send: TUNSETIFF");
		return 1;
	}
	printf("attached %s\n", ifr.ifr_name);
	fflush(stdout);
	for (;;)
		pause();
}

int main(int argc, char **argv)
{
	if (argc == 5 && !strcmp(argv[1], "send"))
		return send_loop(argv[2], argv[3], argv[4]);
	if (argc == 3 && !strcmp(argv[1], "tun"))
		return hold_tun(argv[2]);
	fprintf(stderr, "usage: udp_send send ADDR PORT SECONDS | tun IFNAME\n");
	return 2;
}
