/* Synthetic trace generators (Poisson, Gamma renewal, on/off MMPP, video cameras) and the
 * lognormal size fit. Invariant: rows reach the sink in nondecreasing arrival order with
 * 0 <= arrival < duration, and every random quantity comes from its own seeded stream
 * (arrivals, sizes, jitter, on/off) so changing one model never shifts the others. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "epara/core/error.h"
#include "epara/core/heap.h"
#include "epara/core/rng.h"
#include "epara/traces/trace.h"

/* Refuse specs whose expected row count, or expected loop work (on/off switches, frame
 * slots skipped while off), exceeds this: absurd outputs or a generator that never ends. */
#define MAX_ROWS 2e9
/* Gamma shapes below 1/MAX_CV^2 underflow to zero gaps almost always. */
#define MAX_CV 1000.0
/* More cameras than this is a mistake, and each one costs a heap node. */
#define MAX_CAMERAS 1000000
#define NS_PER_S_D  1e9

void
ep_gen_spec_init(ep_gen_spec *spec)
{
    memset(spec, 0, sizeof *spec);
    spec->kind = EP_GEN_POISSON;
    spec->seed = 1;
    spec->duration = 60 * EP_NS_PER_S;
    spec->rate_per_s = 1.0;
    spec->cv = 1.0;
    spec->off_rate_per_s = 0.0;
    spec->mean_on_s = 0.0;
    spec->mean_off_s = 0.0;
    spec->cameras = 1;
    spec->fps = 30.0;
    spec->jitter_ms = 0.0;
    spec->sizes = EP_SIZES_FIXED;
    spec->fixed_input = EP_TRACE_NONE;
    spec->fixed_output = EP_TRACE_NONE;
    spec->in_mu = spec->in_sigma = spec->out_mu = spec->out_sigma = 0.0;
    spec->in_max = spec->out_max = 0;
    spec->pool_input = spec->pool_output = NULL;
    spec->pool_len = 0;
}

int
ep_gen_kind_parse(const char *name, ep_gen_kind *out)
{
    static const struct {
        const char *name;
        ep_gen_kind kind;
    } kinds[] = {{"poisson", EP_GEN_POISSON},
                 {"gamma", EP_GEN_GAMMA},
                 {"mmpp", EP_GEN_MMPP},
                 {"video", EP_GEN_VIDEO}};
    if (!name)
        return EP_EINVAL;
    for (size_t i = 0; i < EP_ARRAY_LEN(kinds); i++) {
        if (strcmp(name, kinds[i].name) == 0) {
            *out = kinds[i].kind;
            return 0;
        }
    }
    return EP_EINVAL;
}

/* --- validation ------------------------------------------------------------------- */

static int fail(char *err, size_t errlen, const char *fmt, ...) EP_PRINTF(3, 4);

static int
fail(char *err, size_t errlen, const char *fmt, ...)
{
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return EP_EINVAL;
}

static int
positive(double x)
{
    return isfinite(x) && x > 0;
}

static int
nonnegative(double x)
{
    return isfinite(x) && x >= 0;
}

static int
valid_size(int64_t v)
{
    return v == EP_TRACE_NONE || (v >= 0 && v <= EP_TRACE_MAX_SIZE);
}

static int
check_sizes(const ep_gen_spec *s, char *err, size_t errlen)
{
    switch (s->sizes) {
    case EP_SIZES_FIXED:
        if (!valid_size(s->fixed_input))
            return fail(err, errlen, "fixed input size %lld is negative or above %lld",
                        (long long)s->fixed_input, (long long)EP_TRACE_MAX_SIZE);
        if (!valid_size(s->fixed_output))
            return fail(err, errlen, "fixed output size %lld is negative or above %lld",
                        (long long)s->fixed_output, (long long)EP_TRACE_MAX_SIZE);
        return 0;
    case EP_SIZES_LOGNORMAL:
        if (!isfinite(s->in_mu) || !nonnegative(s->in_sigma))
            return fail(err, errlen,
                        "lognormal input sizes need a finite mu and sigma >= 0 (got %g, %g)",
                        s->in_mu, s->in_sigma);
        if (!isfinite(s->out_mu) || !nonnegative(s->out_sigma))
            return fail(err, errlen,
                        "lognormal output sizes need a finite mu and sigma >= 0 (got %g, %g)",
                        s->out_mu, s->out_sigma);
        if (s->in_max < 0 || s->in_max > EP_TRACE_MAX_SIZE || s->out_max < 0 ||
            s->out_max > EP_TRACE_MAX_SIZE)
            return fail(err, errlen,
                        "lognormal size clips must be in [1, %lld] or 0 for none (got %lld, %lld)",
                        (long long)EP_TRACE_MAX_SIZE, (long long)s->in_max, (long long)s->out_max);
        return 0;
    case EP_SIZES_RESAMPLE:
        if (s->pool_len == 0 || !s->pool_input || !s->pool_output)
            return fail(err, errlen, "resampled sizes need a non-empty pool of (input, output)");
        if ((uint64_t)s->pool_len > UINT64_C(0x100000000))
            return fail(err, errlen, "size pool of %zu pairs is too large (max 2^32)", s->pool_len);
        for (size_t i = 0; i < s->pool_len; i++) {
            if (!valid_size(s->pool_input[i]) || !valid_size(s->pool_output[i]))
                return fail(err, errlen, "size pool entry %zu (%lld, %lld) is out of range", i,
                            (long long)s->pool_input[i], (long long)s->pool_output[i]);
        }
        return 0;
    }
    return fail(err, errlen, "unknown sizes mode %d", (int)s->sizes);
}

static int
check_spec(const ep_gen_spec *s, char *err, size_t errlen)
{
    if (s->duration <= 0)
        return fail(err, errlen, "--duration must be > 0");
    double dur_s = ep_dur_to_s(s->duration);
    double expected = 0, work = 0;
    switch (s->kind) {
    case EP_GEN_POISSON:
    case EP_GEN_GAMMA:
        if (!positive(s->rate_per_s))
            return fail(err, errlen, "%s needs --rate > 0 (got %g)",
                        s->kind == EP_GEN_GAMMA ? "gamma" : "poisson", s->rate_per_s);
        if (s->kind == EP_GEN_GAMMA && !(positive(s->cv) && s->cv <= MAX_CV))
            return fail(err, errlen, "gamma needs --cv > 0 and <= %g (got %g)", MAX_CV, s->cv);
        expected = s->rate_per_s * dur_s;
        break;
    case EP_GEN_MMPP:
        if (!positive(s->rate_per_s))
            return fail(err, errlen, "mmpp needs --rate > 0 while on (got %g)", s->rate_per_s);
        if (!nonnegative(s->off_rate_per_s))
            return fail(err, errlen, "mmpp needs --off-rate >= 0 (got %g)", s->off_rate_per_s);
        if (!positive(s->mean_on_s) || !positive(s->mean_off_s))
            return fail(err, errlen, "mmpp needs --on-s > 0 and --off-s > 0 (got %g, %g)",
                        s->mean_on_s, s->mean_off_s);
        expected = (s->rate_per_s * s->mean_on_s + s->off_rate_per_s * s->mean_off_s) /
                   (s->mean_on_s + s->mean_off_s) * dur_s;
        work = 2 * dur_s / (s->mean_on_s + s->mean_off_s);
        break;
    case EP_GEN_VIDEO:
        if (s->cameras < 1 || s->cameras > MAX_CAMERAS)
            return fail(err, errlen, "video needs 1 <= --cameras <= %d (got %d)", MAX_CAMERAS,
                        s->cameras);
        if (!positive(s->fps))
            return fail(err, errlen, "video needs --fps > 0 (got %g)", s->fps);
        if (!nonnegative(s->jitter_ms))
            return fail(err, errlen, "video needs --jitter-ms >= 0 (got %g)", s->jitter_ms);
        if (!nonnegative(s->mean_on_s))
            return fail(err, errlen, "video needs --on-s >= 0 (0: always on; got %g)",
                        s->mean_on_s);
        if (s->mean_on_s > 0 && !positive(s->mean_off_s))
            return fail(err, errlen, "video with on/off periods needs --off-s > 0 (got %g)",
                        s->mean_off_s);
        expected = work = (double)s->cameras * s->fps * dur_s;
        if (s->mean_on_s > 0) {
            expected *= s->mean_on_s / (s->mean_on_s + s->mean_off_s);
            work += 2 * (double)s->cameras * dur_s / (s->mean_on_s + s->mean_off_s);
        }
        break;
    default:
        return fail(err, errlen, "unknown generator kind %d", (int)s->kind);
    }
    if (!(expected <= MAX_ROWS))
        return fail(err, errlen, "spec would generate about %.3g rows (more than %.0g): refused",
                    expected, MAX_ROWS);
    if (!(work <= MAX_ROWS))
        return fail(err, errlen,
                    "spec needs about %.3g on/off switches or frame slots (more than %.0g): "
                    "refused; lengthen --on-s/--off-s or lower --fps",
                    work, MAX_ROWS);
    return check_sizes(s, err, errlen);
}

/* --- shared emission -------------------------------------------------------------- */

typedef struct gen {
    const ep_gen_spec *spec;
    ep_row_sink_fn sink;
    void *ctx;
    ep_rng arrivals, sizes, jitter, onoff;
    long line; /* rows handed to the sink so far */
} gen;

/* A lognormal draw rounded to an integer in [1, max] (max 0: EP_TRACE_MAX_SIZE). Clipping
 * keeps one draw per size, so a clip never shifts the other sizes of the stream. */
static int64_t
lognormal_size(ep_rng *r, double mu, double sigma, int64_t max)
{
    double x = ep_rng_lognormal(r, mu, sigma);
    if (max <= 0)
        max = EP_TRACE_MAX_SIZE;
    if (!(x < (double)max)) /* also catches inf */
        return max;
    int64_t v = (int64_t)llround(x);
    return v < 1 ? 1 : v > max ? max : v;
}

static void
draw_sizes(gen *g, ep_trace_row *row)
{
    const ep_gen_spec *s = g->spec;
    switch (s->sizes) {
    case EP_SIZES_FIXED:
        row->input = s->fixed_input;
        row->output = s->fixed_output;
        break;
    case EP_SIZES_LOGNORMAL:
        row->input = lognormal_size(&g->sizes, s->in_mu, s->in_sigma, s->in_max);
        row->output = lognormal_size(&g->sizes, s->out_mu, s->out_sigma, s->out_max);
        break;
    case EP_SIZES_RESAMPLE: {
        size_t i = (size_t)ep_rng_uniform_int(&g->sizes, (uint64_t)s->pool_len);
        row->input = s->pool_input[i];
        row->output = s->pool_output[i];
        break;
    }
    }
}

static int
emit(gen *g, ep_time arrival, int64_t stream, int64_t frame)
{
    ep_trace_row row;
    ep_trace_row_clear(&row);
    row.arrival = arrival;
    row.stream = stream;
    row.frame = frame;
    draw_sizes(g, &row);
    g->line++;
    return g->sink(g->ctx, &row, g->line);
}

/* A process time in double ns to a row arrival. Truncation is monotone, so a nondecreasing
 * process gives nondecreasing arrivals; the caller checks the result against duration in
 * integers (doubles above 2^53 ns cannot represent every duration). */
static ep_time
to_arrival(double t_ns)
{
    return t_ns <= 0 ? 0 : (ep_time)t_ns;
}

/* --- renewal processes: poisson and gamma ----------------------------------------- */

/* An ordinary renewal process started at 0: the first arrival is one inter-arrival in. */
static int
gen_renewal(gen *g)
{
    const ep_gen_spec *s = g->spec;
    double mean_ns = NS_PER_S_D / s->rate_per_s;
    double shape = 0, scale = 0;
    if (s->kind == EP_GEN_GAMMA) {
        shape = 1.0 / (s->cv * s->cv);
        scale = mean_ns / shape;
    }
    double limit = (double)s->duration;
    double t = 0;
    for (;;) {
        t += s->kind == EP_GEN_GAMMA ? ep_rng_gamma(&g->arrivals, shape, scale)
                                     : ep_rng_exponential(&g->arrivals, mean_ns);
        if (!(t < limit))
            return 0;
        ep_time a = to_arrival(t);
        if (a >= s->duration)
            return 0;
        int rv = emit(g, a, EP_TRACE_NONE, EP_TRACE_NONE);
        if (rv)
            return rv;
    }
}

/* --- on/off MMPP ------------------------------------------------------------------ */

/* Exponential sojourns and Poisson arrivals are memoryless, so at a state switch the
 * pending candidate arrival is simply discarded and a fresh one drawn at the new rate,
 * and the initial sojourn (a residual of a stationary one) is a full exponential. */
static int
gen_mmpp(gen *g)
{
    const ep_gen_spec *s = g->spec;
    double p_on = s->mean_on_s / (s->mean_on_s + s->mean_off_s);
    int on = ep_rng_uniform(&g->onoff) < p_on;
    double limit = (double)s->duration;
    double t = 0;
    double state_end =
            ep_rng_exponential(&g->onoff, (on ? s->mean_on_s : s->mean_off_s) * NS_PER_S_D);
    while (t < limit) {
        double rate = on ? s->rate_per_s : s->off_rate_per_s;
        double next = rate > 0 ? t + ep_rng_exponential(&g->arrivals, NS_PER_S_D / rate) : INFINITY;
        if (next < state_end) {
            if (!(next < limit))
                return 0;
            ep_time a = to_arrival(next);
            if (a >= s->duration)
                return 0;
            int rv = emit(g, a, EP_TRACE_NONE, EP_TRACE_NONE);
            if (rv)
                return rv;
            t = next;
        } else {
            t = state_end;
            on = !on;
            state_end = t + ep_rng_exponential(&g->onoff,
                                               (on ? s->mean_on_s : s->mean_off_s) * NS_PER_S_D);
        }
    }
    return 0;
}

/* --- video cameras ---------------------------------------------------------------- */

typedef struct camera {
    ep_heap_node node;
    int64_t index;    /* stream id */
    double phase;     /* ns, in [0, period) */
    int64_t k;        /* nominal frame index of the pending frame */
    int64_t emitted;  /* frames emitted so far: the pending frame's number */
    ep_time pending;  /* arrival of the pending frame */
    ep_time last;     /* arrival of the previous emitted frame, 0 before the first */
    int on;           /* on/off state at state_end's left */
    double state_end; /* ns; INFINITY when always on */
} camera;

/* Moves c to its next emitted frame at nominal index >= c->k, setting c->pending.
 * Returns 0 when the camera has no more frames before the end of the trace. */
static int
camera_advance(gen *g, camera *c, double period, double limit)
{
    const ep_gen_spec *s = g->spec;
    double sd_ns = s->jitter_ms * 1e6;
    for (;; c->k++) {
        double nominal = c->phase + (double)c->k * period;
        if (!(nominal < limit))
            return 0;
        while (nominal >= c->state_end) {
            c->on = !c->on;
            c->state_end += ep_rng_exponential(&g->onoff,
                                               (c->on ? s->mean_on_s : s->mean_off_s) * NS_PER_S_D);
        }
        if (!c->on)
            continue;
        double t = sd_ns > 0 ? nominal + ep_rng_gaussian(&g->jitter, sd_ns) : nominal;
        /* Clip: a frame never precedes the previous frame of its camera, nor time 0. */
        ep_time a = to_arrival(t < limit ? t : limit);
        if (a < c->last)
            a = c->last;
        if (a >= s->duration)
            return 0;
        c->pending = a;
        return 1;
    }
}

static int
gen_video(gen *g)
{
    const ep_gen_spec *s = g->spec;
    size_t n = (size_t)s->cameras;
    double period = NS_PER_S_D / s->fps;
    double limit = (double)s->duration;
    int onoff = s->mean_on_s > 0;
    double p_on = onoff ? s->mean_on_s / (s->mean_on_s + s->mean_off_s) : 1.0;
    int rv = 0;
    /* Cameras keyed by (pending frame, index): frames in time order, ties by camera. */
    ep_heap heap;
    ep_heap_init(&heap);
    camera *cams = calloc(n, sizeof *cams);
    if (!cams)
        return EP_ENOMEM;
    rv = ep_heap_reserve(&heap, n);
    if (rv)
        goto fail;
    for (size_t i = 0; i < n; i++) {
        camera *c = &cams[i];
        ep_heap_node_init(&c->node);
        c->index = (int64_t)i;
        c->phase = ep_rng_uniform(&g->arrivals) * period;
        c->on = 1;
        c->state_end = INFINITY;
        if (onoff) {
            c->on = ep_rng_uniform(&g->onoff) < p_on;
            c->state_end = ep_rng_exponential(&g->onoff,
                                              (c->on ? s->mean_on_s : s->mean_off_s) * NS_PER_S_D);
        }
        if (camera_advance(g, c, period, limit)) {
            rv = ep_heap_push(&heap, &c->node, c->pending, (uint64_t)c->index);
            if (rv)
                goto fail;
        }
    }
    ep_heap_node *top;
    while ((top = ep_heap_min(&heap)) != NULL) {
        camera *c = EP_CONTAINER_OF(top, camera, node);
        rv = emit(g, c->pending, c->index, c->emitted);
        if (rv)
            goto fail;
        c->emitted++;
        c->last = c->pending;
        c->k++;
        if (camera_advance(g, c, period, limit))
            ep_heap_update(&heap, top, c->pending, (uint64_t)c->index);
        else
            ep_heap_remove(&heap, top);
    }
fail:
    ep_heap_fini(&heap);
    free(cams);
    return rv;
}

/* --- entry points ----------------------------------------------------------------- */

int
ep_trace_generate(const ep_gen_spec *spec, ep_row_sink_fn sink, void *ctx, char *err, size_t errlen)
{
    if (!spec || !sink)
        return fail(err, errlen, "no generator spec or sink");
    int rv = check_spec(spec, err, errlen);
    if (rv)
        return rv;
    gen g = {.spec = spec, .sink = sink, .ctx = ctx};
    ep_rng *streams[] = {&g.arrivals, &g.sizes, &g.jitter, &g.onoff};
    static const uint64_t ids[] = {EP_STREAM_ARRIVALS, EP_STREAM_SIZES, EP_STREAM_JITTER,
                                   EP_STREAM_ONOFF};
    size_t ready = 0;
    for (; ready < EP_ARRAY_LEN(streams); ready++) {
        rv = ep_rng_init(streams[ready], spec->seed, ids[ready]);
        if (rv)
            goto fail;
    }
    switch (spec->kind) {
    case EP_GEN_POISSON:
    case EP_GEN_GAMMA:
        rv = gen_renewal(&g);
        break;
    case EP_GEN_MMPP:
        rv = gen_mmpp(&g);
        break;
    case EP_GEN_VIDEO:
        rv = gen_video(&g);
        break;
    }
fail:
    while (ready > 0)
        ep_rng_fini(streams[--ready]);
    return rv;
}

int
ep_lognormal_fit(const int64_t *v, size_t n, double *mu, double *sigma)
{
    /* Welford's update: one pass, stable for long traces. */
    size_t count = 0;
    double mean = 0, m2 = 0;
    for (size_t i = 0; i < n; i++) {
        if (v[i] <= 0)
            continue;
        double x = log((double)v[i]);
        count++;
        double d = x - mean;
        mean += d / (double)count;
        m2 += d * (x - mean);
    }
    if (count < 2)
        return EP_EEMPTY;
    *mu = mean;
    *sigma = sqrt(m2 / (double)count);
    return 0;
}
