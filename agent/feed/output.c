// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "output.h"

static int open_path(const char *path)
{
	int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_NONBLOCK |
				    O_CLOEXEC,
		      0640);

	if (fd < 0)
		log_error("opening the event output %s: %s", path,
			  strerror(errno));
	return fd < 0 ? -errno : fd;
}

/* Pipes and sockets block a writer when full: make them say EAGAIN. */
static int make_nonblocking(struct tl_output *o)
{
	struct stat st;
	int fl;

	if (fstat(o->fd, &st))
		return -errno;
	o->pollable = S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode) ||
		      S_ISCHR(st.st_mode);
	fl = fcntl(o->fd, F_GETFL);
	if (fl < 0 || fcntl(o->fd, F_SETFL, fl | O_NONBLOCK))
		return -errno;
	return 0;
}

int tl_output_open(struct tl_output *o, const char *path)
{
	int err;

	memset(o, 0, sizeof(*o));
	o->fd = -1;
	o->buf = malloc(TL_OUTPUT_BUFFER);
	if (!o->buf)
		return -ENOMEM;
	if (path && strcmp(path, "-")) {
		o->path = strdup(path);
		if (!o->path)
			return -ENOMEM;
		o->fd = open_path(path);
		if (o->fd < 0)
			return o->fd;
	} else {
		o->fd = STDOUT_FILENO;
	}
	err = make_nonblocking(o);
	if (err)
		log_error("event output: %s", strerror(-err));
	return err;
}

int tl_output_reopen(struct tl_output *o)
{
	int fd;

	if (!o->path)
		return 0; /* stdout: whoever holds the other end rotates */
	tl_output_flush(o);
	fd = open_path(o->path);
	if (fd < 0)
		return fd; /* keep writing where we were */
	close(o->fd);
	o->fd = fd;
	return make_nonblocking(o);
}

bool tl_output_line(struct tl_output *o, const char *line, size_t len)
{
	if (o->len + len > TL_OUTPUT_BUFFER) {
		tl_output_flush(o); /* maybe the consumer woke up */
		if (o->len + len > TL_OUTPUT_BUFFER) {
			o->dropped++;
			return false;
		}
	}
	memcpy(o->buf + o->len, line, len);
	o->len += len;
	o->queued++;
	return true;
}

/* Lines wholly written in the first n bytes of the buffer. */
static uint64_t lines_in(const char *buf, size_t n)
{
	uint64_t k = 0;

	for (const char *p = buf; (p = memchr(p, '\n', buf + n - p)); p++)
		k++;
	return k;
}

bool tl_output_flush(struct tl_output *o)
{
	size_t off = 0;

	while (off < o->len) {
		ssize_t n = write(o->fd, o->buf + off, o->len - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (n < 0 && errno != EAGAIN)
				log_debug("event output: %s", strerror(errno));
			break;
		}
		off += n;
	}
	if (off) {
		uint64_t k = lines_in(o->buf, off);

		o->written += k;
		o->queued -= k;
		memmove(o->buf, o->buf + off, o->len - off);
		o->len -= off;
	}
	return o->len > 0;
}

void tl_output_close(struct tl_output *o)
{
	if (o->buf)
		tl_output_flush(o);
	if (o->path && o->fd >= 0)
		close(o->fd);
	free(o->path);
	free(o->buf);
	memset(o, 0, sizeof(*o));
	o->fd = -1;
}
