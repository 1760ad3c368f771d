/* cachesave.c - saving and loading the cache across restarts. See cachesave.h. */
#include "stubd/cachesave.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "stubd/cachefile.h"
#include "stubd/clock.h"
#include "stubd/log.h"
#include "stubd/offload.h"

/* Bytes a file may have per answer beyond the answer itself (the record's
 * fixed fields), and for the header: a file larger than the caps allow
 * is not one stubd wrote with these settings. */
#define FILE_RECORD_SLACK 64
#define FILE_HEADER_SLACK 4096

/* One save: the export and the write run on the offload thread; the
 * rest is the loop's. */
struct save_job {
	struct cache *cache;
	char path[PATH_MAX];
	uint64_t flush_gen;        /* cs->flush_gen when it began */
	/* results, read on the loop once done */
	int err;
	char why[PATH_MAX + 256];
	size_t count;
	unsigned took_ms;
	time_t at;
};

struct cachesave {
	struct event_base *base;
	struct cache *cache;
	char path[PATH_MAX];       /* "none": off */
	unsigned interval_ms;
	uid_t owner;
	size_t max_file_bytes;
	struct offload *offload;
	struct event *timer;
	struct save_job job;       /* the save under way, or the last one */
	uint64_t flush_gen;        /* flush-cache (all) so far */
	struct cachesave_status st;
};

static bool enabled(const struct cachesave *cs)
{
	return strcmp(cs->path, "none") != 0 && cs->path[0] != '\0';
}

static void apply(struct cachesave *cs, const struct config *cfg)
{
	snprintf(cs->path, sizeof(cs->path), "%s", cfg->cache_file);
	cs->interval_ms = cfg->cache_save_interval_ms;
	cs->max_file_bytes = (size_t)cfg->cache_memory + (size_t)cfg->cache_size * FILE_RECORD_SLACK +
			     FILE_HEADER_SLACK;
	cs->st.enabled = enabled(cs);
	snprintf(cs->st.path, sizeof(cs->st.path), "%s", cs->path);
}

/* ---- saving ------------------------------------------------------------- */

/* Rows of an export, copied out so they can be put in order: oldest used
 * first, so a load that hits the caps keeps the most recently used. */
struct rows {
	struct cache_saved *v;
	size_t n, cap;
	uint8_t *bytes;
	size_t used, bytes_cap;
	bool short_of_memory;
};

static void keep_row(void *arg, const struct cache_saved *e)
{
	struct rows *r = arg;
	if (r->short_of_memory)
		return;
	if (r->n == r->cap) {
		size_t cap = r->cap ? r->cap * 2 : 4096;
		struct cache_saved *v = realloc(r->v, cap * sizeof(*v));
		if (!v) {
			r->short_of_memory = true;
			return;
		}
		r->v = v;
		r->cap = cap;
	}
	if (r->used + e->answer_len > r->bytes_cap) {
		size_t cap = r->bytes_cap ? r->bytes_cap * 2 : 1 << 20;
		while (cap < r->used + e->answer_len)
			cap *= 2;
		uint8_t *bytes = realloc(r->bytes, cap);
		if (!bytes) {
			r->short_of_memory = true;
			return;
		}
		r->bytes = bytes;
		r->bytes_cap = cap;
	}
	memcpy(r->bytes + r->used, e->answer, e->answer_len);
	r->v[r->n] = *e;
	/* An offset until the copying is over (bytes may move). */
	r->v[r->n].answer = (const uint8_t *)(uintptr_t)r->used;
	r->used += e->answer_len;
	r->n++;
}

static int by_idle_desc(const void *a, const void *b)
{
	const struct cache_saved *x = a, *y = b;
	return x->idle_ms < y->idle_ms ? 1 : x->idle_ms > y->idle_ms ? -1 : 0;
}

static void save_work(void *arg)
{
	struct save_job *job = arg;
	uint64_t start = clock_mono_ms();
	struct rows rows = { 0 };
	uint64_t saved_at = clock_wall_ms();
	struct cachefile_writer *w = NULL;
	struct stat st;

	/* The rename would replace whatever is there: cache-file = /dev/null
	 * must not turn the device into a file. */
	if (lstat(job->path, &st) == 0 && !S_ISREG(st.st_mode)) {
		job->err = -EINVAL;
		snprintf(job->why, sizeof(job->why), "%s: not a regular file; the cache is not saved "
			 "there (set cache-file to a file, or none)", job->path);
		goto out;
	}

	job->err = cache_export(job->cache, cache_clock_ms(), keep_row, &rows);
	if (job->err == 0 && rows.short_of_memory)
		job->err = -ENOMEM;
	if (job->err == 0)
		w = cachefile_writer_new(saved_at);
	if (job->err == 0 && !w)
		job->err = -ENOMEM;
	if (job->err < 0) {
		snprintf(job->why, sizeof(job->why), "%s: cannot save the cache: out of memory",
			 job->path);
		goto out;
	}
	if (rows.n > 1)
		qsort(rows.v, rows.n, sizeof(rows.v[0]), by_idle_desc);
	for (size_t i = 0; i < rows.n; i++) {
		struct cache_saved *e = &rows.v[i];
		struct cachefile_record rec = {
			.kflags = e->kflags,
			.qtype = e->qtype,
			.qclass = e->qclass,
			.lifetime_s = e->lifetime_s,
			.age_ms = e->age_ms,
			.idle_ms = e->idle_ms,
			.answer = rows.bytes + (uintptr_t)e->answer,
			.answer_len = e->answer_len,
		};
		/* A cached answer is one a writer takes; -ENOMEM stops. */
		if (cachefile_writer_add(w, &rec) == -ENOMEM) {
			job->err = -ENOMEM;
			snprintf(job->why, sizeof(job->why), "%s: cannot save the cache: out of memory",
				 job->path);
			goto out;
		}
	}
	job->count = cachefile_writer_count(w);
	job->err = cachefile_writer_save(w, job->path, job->why, sizeof(job->why));
out:
	cachefile_writer_free(w);
	free(rows.v);
	free(rows.bytes);
	job->at = (time_t)(saved_at / 1000);
	job->took_ms = (unsigned)(clock_mono_ms() - start);
}

static void arm(struct cachesave *cs)
{
	if (!cs->timer)
		return;
	event_del(cs->timer);
	if (!enabled(cs) || cs->interval_ms == 0)
		return;
	struct timeval tv = { .tv_sec = cs->interval_ms / 1000,
			      .tv_usec = (suseconds_t)(cs->interval_ms % 1000) * 1000 };
	event_add(cs->timer, &tv);
}

static void log_save(struct cachesave *cs, const struct save_job *job)
{
	cs->st.saving = false;
	if (job->err < 0) {
		/* No directory at the default place: stubd runs without the
		 * unit's CacheDirectory=; say so once, quietly. */
		bool quiet = job->err == -ENOENT && cs->st.last_error[0];
		snprintf(cs->st.last_error, sizeof(cs->st.last_error), "%s", job->why);
		if (job->err == -ENOENT && quiet)
			log_debug("%s", job->why);
		else if (job->err == -ENOENT)
			log_info("%s (the cache is not kept across restarts; create the directory "
				 "or set cache-file)", job->why);
		else
			log_warn("%s", job->why);
		return;
	}
	cs->st.last_error[0] = '\0';
	cs->st.last_saved = job->at;
	cs->st.last_saved_answers = job->count;
	cs->st.last_save_ms = job->took_ms;
	log_debug("cache saved to %s: %zu answers in %u ms", job->path, job->count, job->took_ms);
}

static void save_done(void *arg)
{
	struct cachesave *cs = arg;
	struct save_job *job = &cs->job;
	if (job->err == 0 && job->flush_gen != cs->flush_gen) {
		/* flush-cache ran while this was written: what it saved may
		 * hold flushed answers, and the flush must win. */
		unlink(job->path);
		job->count = 0;
	}
	log_save(cs, job);
	arm(cs);
}

static void prepare_job(struct cachesave *cs)
{
	memset(&cs->job, 0, sizeof(cs->job));
	cs->job.cache = cs->cache;
	snprintf(cs->job.path, sizeof(cs->job.path), "%s", cs->path);
	cs->job.flush_gen = cs->flush_gen;
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct cachesave *cs = arg;
	if (!enabled(cs) || offload_busy(cs->offload))
		return;
	prepare_job(cs);
	cs->st.saving = true;
	if (offload_start(cs->offload, save_work, &cs->job, save_done, cs) < 0) {
		/* No thread: the next interval tries again rather than stall
		 * the loop here. */
		cs->st.saving = false;
		log_warn("%s: cannot start the thread that saves the cache; trying again in %u s",
			 cs->path, cs->interval_ms / 1000);
		arm(cs);
	}
}

/* ---- loading -------------------------------------------------------------- */

struct load_state {
	struct cache *cache;
	const uint64_t *saved_at;  /* the file's, set before the first record */
	uint64_t now_wall;
	bool started;
	uint64_t elapsed_ms;       /* since the save, by the wall clock, at least 0 */
	uint64_t now;              /* the cache clock */
	size_t loaded, dropped, refused;
};

static void load_record(void *arg, const struct cachefile_record *rec)
{
	struct load_state *ls = arg;
	if (!ls->started) {
		/* A clock that went backwards: no downtime, never a longer TTL. */
		ls->started = true;
		ls->elapsed_ms = ls->now_wall > *ls->saved_at ? ls->now_wall - *ls->saved_at : 0;
	}
	struct cache_saved e = {
		.kflags = rec->kflags,
		.qtype = rec->qtype,
		.qclass = rec->qclass,
		.lifetime_s = rec->lifetime_s,
		.age_ms = rec->age_ms + ls->elapsed_ms,
		.idle_ms = rec->idle_ms + ls->elapsed_ms,
		.answer = rec->answer,
		.answer_len = rec->answer_len,
	};
	int err = cache_restore(ls->cache, &e, ls->now);
	if (err == 0)
		ls->loaded++;
	else if (err == -EBADMSG)
		ls->refused++;
	else
		ls->dropped++;
}

/* A save killed mid-write leaves its temporary file (atomicfile.h names
 * them PATH.tmpXXXXXX): each is as big as the cache, so they are swept
 * at start, before anything writes there. */
static void sweep_temporaries(const char *path)
{
	char dir[PATH_MAX];
	snprintf(dir, sizeof(dir), "%s", path);
	char *slash = strrchr(dir, '/');
	const char *base = slash ? slash + 1 : dir;
	char prefix[NAME_MAX + 8];
	if (strlen(base) > NAME_MAX)
		return;
	snprintf(prefix, sizeof(prefix), "%.*s.tmp", NAME_MAX, base);
	if (slash == dir)
		dir[1] = '\0';
	else if (slash)
		*slash = '\0';
	else
		snprintf(dir, sizeof(dir), ".");
	DIR *d = opendir(dir);
	if (!d)
		return;
	size_t plen = strlen(prefix);
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		if (strncmp(e->d_name, prefix, plen) != 0 || strlen(e->d_name) != plen + 6)
			continue;
		if (unlinkat(dirfd(d), e->d_name, 0) == 0)
			log_info("%s/%s: removed, a save that did not finish", dir, e->d_name);
	}
	closedir(d);
}

size_t cachesave_load(struct cachesave *cs)
{
	char why[PATH_MAX + 256];
	uint64_t saved_at = 0;
	if (!enabled(cs))
		return 0;
	uint64_t start = clock_mono_ms();
	sweep_temporaries(cs->path);
	/* The records' ages are as of the save; the downtime is added to
	 * each (cachefile_load checks the whole file, sets saved_at, then
	 * hands the records over). */
	struct load_state ls = { .cache = cs->cache, .saved_at = &saved_at,
				 .now_wall = clock_wall_ms(), .now = cache_clock_ms() };
	int n = cachefile_load(cs->path, cs->owner, cs->max_file_bytes, &saved_at, load_record, &ls,
			       why, sizeof(why));
	arm(cs);
	if (n == -ENOENT) {
		log_debug("%s: no saved cache yet", cs->path);
		return 0;
	}
	if (n < 0) {
		snprintf(cs->st.last_error, sizeof(cs->st.last_error), "%s", why);
		log_warn("%s; starting with an empty cache", why);
		return 0;
	}
	if (!ls.started)
		ls.elapsed_ms = ls.now_wall > saved_at ? ls.now_wall - saved_at : 0;
	/* A restore may push out an earlier one (the caps): what the cache
	 * holds now is what came back (it was empty before). */
	struct cache_stats stats;
	cache_get_stats(cs->cache, &stats);
	size_t kept = stats.entries < ls.loaded ? (size_t)stats.entries : ls.loaded;
	cs->st.loaded = kept;
	log_info("cache loaded from %s: %zu answers (saved %llu s ago; %zu expired, %zu over the "
		 "caps, %zu refused) in %llu ms",
		 cs->path, kept, (unsigned long long)(ls.elapsed_ms / 1000), ls.dropped,
		 ls.loaded - kept, ls.refused, (unsigned long long)(clock_mono_ms() - start));
	return kept;
}

/* ---- the rest --------------------------------------------------------------- */

struct cachesave *cachesave_new(struct event_base *base, struct cache *cache,
				const struct config *cfg, uid_t owner)
{
	struct cachesave *cs = calloc(1, sizeof(*cs));
	if (!cs)
		return NULL;
	cs->base = base;
	cs->cache = cache;
	cs->owner = owner;
	apply(cs, cfg);
	cs->offload = offload_new(base);
	cs->timer = evtimer_new(base, on_timer, cs);
	if (!cs->offload || !cs->timer) {
		cachesave_free(cs);
		return NULL;
	}
	return cs;
}

void cachesave_configure(struct cachesave *cs, const struct config *cfg)
{
	apply(cs, cfg);
	if (!offload_busy(cs->offload))
		arm(cs);
}

void cachesave_flushed(struct cachesave *cs)
{
	cs->flush_gen++;
	if (enabled(cs) && unlink(cs->path) < 0 && errno != ENOENT)
		log_warn("%s: cannot remove the saved cache after flush-cache: %s", cs->path,
			 strerror(errno));
}

void cachesave_stop(struct cachesave *cs)
{
	if (!enabled(cs))
		return;
	/* A save under way finishes (offload_free waits); its result is
	 * overtaken by this one. */
	offload_free(cs->offload);
	cs->offload = NULL;
	prepare_job(cs);
	save_work(&cs->job);
	log_save(cs, &cs->job);
	if (cs->job.err == 0)
		log_info("cache saved to %s: %zu answers in %u ms", cs->job.path, cs->job.count,
			 cs->job.took_ms);
}

void cachesave_free(struct cachesave *cs)
{
	if (!cs)
		return;
	offload_free(cs->offload);
	if (cs->timer)
		event_free(cs->timer);
	free(cs);
}

void cachesave_status(const struct cachesave *cs, struct cachesave_status *out)
{
	*out = cs->st;
}
