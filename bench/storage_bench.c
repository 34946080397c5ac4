/*
 * bench/storage_bench.c — group commit of the durable log (raft/storage),
 * measured: appends/s and fsyncs/s with P concurrent proposers.
 *
 * Each proposer thread puts one entry into a shared bounded queue and waits
 * until it is durable, then proposes the next (a closed loop, like clients
 * waiting for their commit).  One writer thread takes everything queued,
 * raft_log_append()s it and raft_log_sync()s once per batch (Raft
 * dissertation §10.2.1), then wakes the proposers it made durable.  The
 * batching factor (entries per fsync) is what group commit buys.
 *
 *   storage_bench [--dir DIR] [--seconds S] [--size BYTES] [--proposers 1,64]
 *
 * Prints one line per proposer count:
 *   proposers=64 appends/s=… fsyncs/s=… entries/fsync=… avg_latency_us=…
 * A program that prints figures, not a test: it asserts no timing.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "storage.h"

#define QUEUE_CAP 1024			/* >= the most proposers */
#define MAX_PROPOSERS 512
#define MAX_DATA 65536

struct request
{
	uint32_t	proposer;
	uint64_t	seq;
	uint64_t	ticket;			/* position in the queue's total order */
};

struct bench
{
	pthread_mutex_t mu;
	pthread_cond_t queued;		/* writer waits for work */
	pthread_cond_t durable_cv;	/* proposers wait for their ticket */
	struct request queue[QUEUE_CAP];
	size_t		head;
	size_t		count;
	uint64_t	tickets;		/* requests ever queued */
	uint64_t	durable;		/* tickets made durable */
	int			stop;
	int			failed;

	struct raft_log *log;
	raft_index	next_index;
	size_t		data_size;
	uint64_t	syncs;
	uint64_t	appended;
	double		latency_sum_us;
	uint64_t	latency_n;
};

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

struct proposer_arg
{
	struct bench *b;
	uint32_t	id;
};

static void *
proposer_main(void *p)
{
	struct proposer_arg *a = p;
	struct bench *b = a->b;
	uint64_t	seq = 0;

	pthread_mutex_lock(&b->mu);
	while (!b->stop && !b->failed)
	{
		uint64_t	ticket;
		double		t0 = now_s();

		while (b->count == QUEUE_CAP && !b->stop)
			pthread_cond_wait(&b->durable_cv, &b->mu);
		if (b->stop)
			break;
		ticket = ++b->tickets;
		b->queue[(b->head + b->count) % QUEUE_CAP] = (struct request)
		{
			.proposer = a->id,.seq = seq++,.ticket = ticket
		};
		b->count++;
		pthread_cond_signal(&b->queued);
		while (b->durable < ticket && !b->failed)
			pthread_cond_wait(&b->durable_cv, &b->mu);
		b->latency_sum_us += (now_s() - t0) * 1e6;
		b->latency_n++;
	}
	pthread_mutex_unlock(&b->mu);
	return NULL;
}

/* Takes what is queued, appends it, syncs once, publishes durability. */
static void *
writer_main(void *p)
{
	struct bench *b = p;
	struct raft_entry *batch = calloc(QUEUE_CAP, sizeof(*batch));
	uint8_t    *data = calloc(QUEUE_CAP, b->data_size > 0 ? b->data_size : 1);

	if (batch == NULL || data == NULL)
	{
		fprintf(stderr, "storage_bench: out of memory\n");
		exit(1);
	}
	pthread_mutex_lock(&b->mu);
	for (;;)
	{
		size_t		n;
		uint64_t	last_ticket = 0;

		while (b->count == 0 && !b->stop)
			pthread_cond_wait(&b->queued, &b->mu);
		if (b->count == 0 && b->stop)
			break;
		n = b->count;
		for (size_t i = 0; i < n; i++)
		{
			struct request *r = &b->queue[(b->head + i) % QUEUE_CAP];
			uint8_t    *d = data + i * b->data_size;

			memset(d, (int) (r->proposer & 0xff), b->data_size);
			if (b->data_size >= 16)
			{
				memcpy(d, &r->proposer, sizeof(r->proposer));
				memcpy(d + 8, &r->seq, sizeof(r->seq));
			}
			batch[i].index = b->next_index + i;
			batch[i].term = 1;
			batch[i].type = RAFT_ENTRY_COMMAND;
			batch[i].data.base = d;
			batch[i].data.len = b->data_size;
			last_ticket = r->ticket;
		}
		b->head = (b->head + n) % QUEUE_CAP;
		b->count -= n;
		pthread_mutex_unlock(&b->mu);

		/* The log is used by this thread only: no lock held over I/O. */
		if (raft_log_append(b->log, batch, n) != RAFT_OK ||
			raft_log_sync(b->log) != RAFT_OK)
		{
			fprintf(stderr, "storage_bench: %s\n", raft_log_errmsg(b->log));
			pthread_mutex_lock(&b->mu);
			b->failed = 1;
			pthread_cond_broadcast(&b->durable_cv);
			break;
		}

		pthread_mutex_lock(&b->mu);
		b->next_index += n;
		b->syncs++;
		b->appended += n;
		b->durable = last_ticket;
		pthread_cond_broadcast(&b->durable_cv);
	}
	pthread_mutex_unlock(&b->mu);
	free(batch);
	free(data);
	return NULL;
}

static int
run(const char *dir, unsigned proposers, double seconds, size_t size)
{
	struct bench b;
	struct raft_log_loaded loaded;
	struct raft_log_info info0;
	struct raft_log_info info1;
	pthread_t	writer;
	pthread_t  *threads = calloc(proposers, sizeof(*threads));
	struct proposer_arg *args = calloc(proposers, sizeof(*args));
	double		t0;
	double		elapsed;
	uint64_t	appended;
	uint64_t	syncs;
	int			rv;

	memset(&b, 0, sizeof(b));
	pthread_mutex_init(&b.mu, NULL);
	pthread_cond_init(&b.queued, NULL);
	pthread_cond_init(&b.durable_cv, NULL);
	b.data_size = size;
	rv = raft_log_open(dir, NULL, &b.log, &loaded);
	if (rv != RAFT_OK)
	{
		fprintf(stderr, "storage_bench: %s\n", loaded.error);
		return 1;
	}
	/* Start after whatever an earlier run left. */
	if (loaded.n_entries > 0)
		raft_log_truncate(b.log, 1);
	b.next_index = 1;
	raft_log_loaded_free(&loaded);
	raft_log_get_info(b.log, &info0);

	pthread_create(&writer, NULL, writer_main, &b);
	t0 = now_s();
	for (unsigned i = 0; i < proposers; i++)
	{
		args[i].b = &b;
		args[i].id = i;
		pthread_create(&threads[i], NULL, proposer_main, &args[i]);
	}
	while (now_s() - t0 < seconds)
		usleep(20000);
	pthread_mutex_lock(&b.mu);
	b.stop = 1;
	appended = b.appended;
	syncs = b.syncs;
	elapsed = now_s() - t0;
	pthread_cond_broadcast(&b.queued);
	pthread_cond_broadcast(&b.durable_cv);
	pthread_mutex_unlock(&b.mu);
	for (unsigned i = 0; i < proposers; i++)
		pthread_join(threads[i], NULL);
	pthread_join(writer, NULL);
	raft_log_get_info(b.log, &info1);

	printf("proposers=%u appends/s=%.0f fsyncs/s=%.0f entries/fsync=%.1f "
		   "avg_latency_us=%.0f entry_bytes=%zu fsync_avg_us=%.0f fsync_max_us=%llu "
		   "(file syncs incl. segment creation: %llu, dir syncs: %llu)\n",
		   proposers, (double) appended / elapsed, (double) syncs / elapsed,
		   syncs > 0 ? (double) appended / (double) syncs : 0.0,
		   b.latency_n > 0 ? b.latency_sum_us / (double) b.latency_n : 0.0,
		   size,
		   info1.data_syncs + info1.dir_syncs > info0.data_syncs + info0.dir_syncs ?
		   (double) (info1.sync_us_total - info0.sync_us_total) /
		   (double) (info1.data_syncs + info1.dir_syncs - info0.data_syncs - info0.dir_syncs) : 0.0,
		   (unsigned long long) info1.sync_us_max,
		   (unsigned long long) (info1.data_syncs - info0.data_syncs),
		   (unsigned long long) (info1.dir_syncs - info0.dir_syncs));
	fflush(stdout);

	/* Leave the directory small for the next run. */
	raft_log_truncate(b.log, 1);
	raft_log_close(b.log);
	free(threads);
	free(args);
	return b.failed;
}

int
main(int argc, char **argv)
{
	const char *dir = "build/bench/data";
	double		seconds = 3;
	size_t		size = 128;
	char		list[256] = "1,64";
	int			failed = 0;

	for (int i = 1; i < argc; i++)
	{
		if (strcmp(argv[i], "--dir") == 0 && i + 1 < argc)
			dir = argv[++i];
		else if (strcmp(argv[i], "--seconds") == 0 && i + 1 < argc)
			seconds = atof(argv[++i]);
		else if (strcmp(argv[i], "--size") == 0 && i + 1 < argc)
			size = (size_t) atol(argv[++i]);
		else if (strcmp(argv[i], "--proposers") == 0 && i + 1 < argc)
			snprintf(list, sizeof(list), "%s", argv[++i]);
		else
		{
			fprintf(stderr, "usage: %s [--dir DIR] [--seconds S] [--size BYTES] [--proposers 1,64]\n",
					argv[0]);
			return 2;
		}
	}
	if (seconds <= 0 || seconds > 600 || size > MAX_DATA)
	{
		fprintf(stderr, "storage_bench: --seconds in (0, 600], --size <= %d\n", MAX_DATA);
		return 2;
	}
	printf("storage_bench: dir=%s seconds=%.1f entry data=%zu bytes, 8 MiB preallocated segments\n",
		   dir, seconds, size);
	for (char *tok = strtok(list, ","); tok != NULL; tok = strtok(NULL, ","))
	{
		long		p = atol(tok);

		if (p < 1 || p > MAX_PROPOSERS)
		{
			fprintf(stderr, "storage_bench: proposers in [1, %d]\n", MAX_PROPOSERS);
			return 2;
		}
		failed |= run(dir, (unsigned) p, seconds, size);
	}
	return failed;
}
