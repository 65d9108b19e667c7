/* Import: map a file into memory, run the pure parser into a trace writer, and commit or
 * roll back as one transaction, so a malformed row leaves the database exactly as before. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "epara/core/error.h"
#include "epara/traces/store.h"

typedef struct input {
    const char *data;
    size_t len;
    void *map; /* mmap base, or NULL */
    char *heap;
} input;

static int
read_fd(int fd, input *in)
{
    size_t cap = 1 << 16, len = 0;
    char *buf = malloc(cap);
    if (!buf)
        return EP_ENOMEM;
    for (;;) {
        if (len == cap) {
            char *nb = realloc(buf, cap * 2);
            if (!nb) {
                free(buf);
                return EP_ENOMEM;
            }
            buf = nb;
            cap *= 2;
        }
        ssize_t n = read(fd, buf + len, cap - len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            free(buf);
            return EP_EIO;
        }
        if (n == 0)
            break;
        len += (size_t)n;
    }
    in->heap = buf;
    in->data = buf;
    in->len = len;
    return 0;
}

static int
input_open(const char *path, input *in, ep_parse_error *err)
{
    memset(in, 0, sizeof *in);
    if (strcmp(path, "-") == 0)
        return read_fd(STDIN_FILENO, in);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        snprintf(err->msg, sizeof err->msg, "cannot open: %s", strerror(errno));
        return EP_EIO;
    }
    struct stat st;
    int rv = 0;
    if (fstat(fd, &st) != 0) {
        snprintf(err->msg, sizeof err->msg, "cannot stat: %s", strerror(errno));
        rv = EP_EIO;
    } else if (S_ISDIR(st.st_mode)) {
        snprintf(err->msg, sizeof err->msg, "is a directory");
        rv = EP_EIO;
    } else if (S_ISREG(st.st_mode) && st.st_size > 0) {
        void *m = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (m == MAP_FAILED) {
            snprintf(err->msg, sizeof err->msg, "cannot map: %s", strerror(errno));
            rv = EP_EIO;
        } else {
            posix_madvise(m, (size_t)st.st_size, POSIX_MADV_SEQUENTIAL);
            in->map = m;
            in->data = m;
            in->len = (size_t)st.st_size;
        }
    } else if (!S_ISREG(st.st_mode)) {
        rv = read_fd(fd, in); /* pipes, devices */
        if (rv == EP_EIO)
            snprintf(err->msg, sizeof err->msg, "read error: %s", strerror(errno));
    }
    close(fd);
    return rv;
}

static void
input_close(input *in)
{
    if (in->map)
        munmap(in->map, in->len);
    free(in->heap);
}

/* The parser has one context for its sink and its skip callback: route both. */
typedef struct import_ctx {
    ep_trace_writer *w;
    const ep_parse_opts *user;
    long rows;
} import_ctx;

static int
import_sink(void *ctx, const ep_trace_row *row, long line)
{
    import_ctx *ic = ctx;
    int rc = ep_trace_writer_sink(ic->w, row, line);
    if (rc == 0 && ic->user->on_progress && (++ic->rows & 0xfffff) == 0)
        ic->user->on_progress(ic->user->ctx, ic->rows);
    return rc;
}

static void
import_skip(void *ctx, long line, const char *reason)
{
    import_ctx *ic = ctx;
    if (ic->user->on_skip)
        ic->user->on_skip(ic->user->ctx, line, reason);
}

int
ep_trace_import_file(ep_store *st, const char *path, const ep_parse_opts *opts,
                     const ep_trace_meta *meta, int replace, ep_parse_error *err,
                     ep_parse_stats *stats, ep_trace_meta *out_meta)
{
    memset(err, 0, sizeof *err);
    input in;
    int rv = input_open(path, &in, err);
    if (rv)
        return rv;
    import_ctx ic = {.user = opts};
    if ((rv = ep_trace_writer_begin(st, meta, replace, &ic.w)) != 0)
        goto done;
    ep_parse_opts o = *opts;
    o.ctx = &ic;
    o.on_skip = import_skip;
    rv = ep_trace_parse(in.data, in.len, &o, import_sink, err, stats);
    if (rv) {
        ep_trace_writer_abort(ic.w);
        goto done;
    }
    /* Rows are stored; unmap before the commit's sort so peak memory stays low. */
    input_close(&in);
    memset(&in, 0, sizeof in);
    rv = ep_trace_writer_commit(ic.w, out_meta);
done:
    input_close(&in);
    return rv;
}
