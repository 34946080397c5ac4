/*
 * raft/transport/tlog.c — small helpers of the transport: the rate-limited
 * log (at most one line per key and level per log_interval_ms, then a
 * count of what was suppressed), numeric address parsing, and the back-off PRNG.
 */
#include "transport_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct raft_tlog_slot *
tlog_slot(struct raft_transport *t, const char *key)
{
	struct raft_tlog_slot *oldest = &t->tlog[0];

	for (int i = 0; i < RAFT_TLOG_SLOTS; i++)
	{
		struct raft_tlog_slot *s = &t->tlog[i];

		if (s->used && strcmp(s->key, key) == 0)
			return s;
		if (!s->used)
		{
			oldest = s;
			break;
		}
		if (s->last_ms < oldest->last_ms)
			oldest = s;
	}
	/* Forget the least recently logged key (its suppressed count too). */
	memset(oldest, 0, sizeof(*oldest));
	snprintf(oldest->key, sizeof(oldest->key), "%s", key);
	return oldest;
}

void
raft_tlog(struct raft_transport *t, int level, const char *key,
		  const char *fmt,...)
{
	char		msg[RAFT_TLOG_LINE_LEN];
	char		line[RAFT_TLOG_LINE_LEN + 96];
	char		slot_key[RAFT_TLOG_KEY_LEN];
	struct raft_tlog_slot *s;
	uint64_t	now = uv_now(t->loop);
	va_list		ap;

	if (t->opt.log == NULL)
		return;
	/* Limited per key and level: "connected" lines never hide warnings. */
	snprintf(slot_key, sizeof(slot_key), "%d|%s", level, key);
	s = tlog_slot(t, slot_key);
	if (s->used && now - s->last_ms < t->opt.log_interval_ms)
	{
		s->suppressed++;
		t->stats.log_suppressed++;
		return;
	}
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (s->suppressed > 0)
		snprintf(line, sizeof(line), "transport %llu: %s: %s (%llu similar lines suppressed)",
				 (unsigned long long) t->opt.id, key, msg,
				 (unsigned long long) s->suppressed);
	else
		snprintf(line, sizeof(line), "transport %llu: %s: %s",
				 (unsigned long long) t->opt.id, key, msg);
	s->used = true;
	s->last_ms = now;
	s->suppressed = 0;
	t->opt.log(t->opt.arg, level, line);
}

/* "1.2.3.4:5" or "[::1]:5"; numeric only.  RAFT_OK or RAFT_EINVAL. */
int
raft_parse_addr(const char *addr, struct sockaddr_storage *sa)
{
	char		host[RAFT_ADDR_LEN];
	const char *colon;
	const char *port_str;
	char	   *end;
	unsigned long port;
	size_t		host_len;
	bool		v6 = false;

	memset(sa, 0, sizeof(*sa));
	if (addr == NULL || strlen(addr) >= RAFT_ADDR_LEN)
		return RAFT_EINVAL;
	if (addr[0] == '[')
	{
		const char *close = strchr(addr, ']');

		if (close == NULL || close[1] != ':')
			return RAFT_EINVAL;
		host_len = (size_t) (close - addr - 1);
		memcpy(host, addr + 1, host_len);
		port_str = close + 2;
		v6 = true;
	}
	else
	{
		colon = strrchr(addr, ':');
		if (colon == NULL)
			return RAFT_EINVAL;
		host_len = (size_t) (colon - addr);
		memcpy(host, addr, host_len);
		port_str = colon + 1;
	}
	host[host_len] = '\0';
	if (host_len == 0 || *port_str == '\0')
		return RAFT_EINVAL;
	port = strtoul(port_str, &end, 10);
	if (*end != '\0' || port > 65535)
		return RAFT_EINVAL;
	if (v6)
	{
		if (uv_ip6_addr(host, (int) port, (struct sockaddr_in6 *) sa) != 0)
			return RAFT_EINVAL;
	}
	else if (uv_ip4_addr(host, (int) port, (struct sockaddr_in *) sa) != 0)
		return RAFT_EINVAL;
	return RAFT_OK;
}

void
raft_format_sockaddr(const struct sockaddr_storage *sa, char *out, size_t cap)
{
	char		host[64] = "?";
	int			port = 0;

	if (sa->ss_family == AF_INET)
	{
		const struct sockaddr_in *in = (const struct sockaddr_in *) sa;

		uv_ip4_name(in, host, sizeof(host));
		port = ntohs(in->sin_port);
	}
	else if (sa->ss_family == AF_INET6)
	{
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *) sa;

		uv_ip6_name(in6, host, sizeof(host));
		port = ntohs(in6->sin6_port);
	}
	snprintf(out, cap, "%s:%d", host, port);
}

/* splitmix64: small, seedable, good enough for jitter. */
uint64_t
raft_transport_random(struct raft_transport *t)
{
	uint64_t	z = (t->rng += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* Attempt k waits uniform [d/2, d], d = min(max, min * 2^k). */
uint64_t
raft_backoff_ms(unsigned min_ms, unsigned max_ms, unsigned attempt,
				uint64_t random)
{
	uint64_t	d = min_ms;
	uint64_t	half;

	for (unsigned i = 0; i < attempt && d < max_ms; i++)
		d *= 2;
	if (d > max_ms)
		d = max_ms;
	half = d / 2;
	return half + random % (d - half + 1);
}
