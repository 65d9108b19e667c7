/* Alibaba GenTD26 (lora_request_trace.csv) parser: one Stable-Diffusion request a row.
 * Rows with an empty field (other than negative_prompt_length) are pending requests: they are
 * reported through on_skip and counted as skipped, never handed to the sink. */
#include <stdio.h>
#include <string.h>

#include "csv.h"
#include "epara/core/error.h"
#include "parse_internal.h"

enum {
    G_CREATE,
    G_TYPE,
    G_STATUS,
    G_EXEC,
    G_GROUP,
    G_PROMPT,
    G_NEG_PROMPT,
    G_IMAGES,
    G_STEPS,
    G_MODEL,
    G_LORA,
    G_COLUMNS
};

static const char *const header[G_COLUMNS] = {"gmt_create",
                                              "predict_type",
                                              "predict_status",
                                              "exec_time_seconds",
                                              "groupId",
                                              "prompt_length",
                                              "negative_prompt_length",
                                              "num_images_per_prompt",
                                              "num_inference_steps",
                                              "checkpoint_model_version_id",
                                              "num_lora"};

/* Integral count column i of the row into *out. */
static int
count(const csv_reader *r, int i, ep_parse_error *err, int64_t *out)
{
    const csv_field *f = &r->fields[i];
    return trace_field_int(f->p, f->len, EP_TRACE_MAX_SIZE, header[i], r->line, i + 1, err, out);
}

static int
text(const csv_reader *r, int i, ep_parse_error *err, char *buf)
{
    const csv_field *f = &r->fields[i];
    return trace_field_text(f->p, f->len, header[i], r->line, i + 1, err, buf);
}

/* Converts one complete row; attrs receives the JSON object of the other fields. */
static int
convert(const csv_reader *r, ep_trace_row *row, char *kind, char *attrs, ep_parse_error *err)
{
    const csv_field *f = r->fields;
    char status[EP_TRACE_MAX_TEXT + 1], group[EP_TRACE_MAX_TEXT + 1], model[EP_TRACE_MAX_TEXT + 1];
    int64_t neg = EP_TRACE_NONE, steps, lora;
    int rc;
    ep_trace_row_clear(row);
    if ((rc = trace_field_time(f[G_CREATE].p, f[G_CREATE].len, EP_UNIT_DATETIME, header[G_CREATE],
                               r->line, G_CREATE + 1, err, &row->arrival)) ||
        (rc = text(r, G_TYPE, err, kind)) || (rc = text(r, G_STATUS, err, status)) ||
        (rc = trace_field_dur(f[G_EXEC].p, f[G_EXEC].len, EP_UNIT_S, header[G_EXEC], r->line,
                              G_EXEC + 1, err, &row->exec)) ||
        (rc = text(r, G_GROUP, err, group)) || (rc = count(r, G_PROMPT, err, &row->input)) ||
        (f[G_NEG_PROMPT].len && (rc = count(r, G_NEG_PROMPT, err, &neg))) ||
        (rc = count(r, G_IMAGES, err, &row->output)) || (rc = count(r, G_STEPS, err, &steps)) ||
        (rc = text(r, G_MODEL, err, model)) || (rc = count(r, G_LORA, err, &lora)))
        return rc;
    row->kind = kind;
    size_t o = (size_t)sprintf(attrs, "{\"status\":");
    o += trace_json_string(attrs + o, status, f[G_STATUS].len);
    o += (size_t)sprintf(attrs + o, ",\"group\":");
    o += trace_json_string(attrs + o, group, f[G_GROUP].len);
    if (neg == EP_TRACE_NONE)
        o += (size_t)sprintf(attrs + o, ",\"negative_prompt_length\":null");
    else
        o += (size_t)sprintf(attrs + o, ",\"negative_prompt_length\":%lld", (long long)neg);
    o += (size_t)sprintf(attrs + o, ",\"steps\":%lld,\"model\":", (long long)steps);
    o += trace_json_string(attrs + o, model, f[G_MODEL].len);
    sprintf(attrs + o, ",\"lora\":%lld}", (long long)lora);
    row->attrs = attrs;
    return 0;
}

int
trace_parse_gentd(const char *buf, size_t len, const ep_parse_opts *opts, ep_row_sink_fn sink,
                  ep_parse_error *err, ep_parse_stats *stats)
{
    char kind[EP_TRACE_MAX_TEXT + 1];
    char attrs[3 * TRACE_JSON_TEXT_MAX + 160];
    csv_reader r;
    csv_init(&r, buf, len);
    int rc = trace_fixed_header(&r, header, G_COLUMNS, err);
    if (rc)
        goto done;
    while ((rc = csv_next(&r, err)) == 1) {
        if (r.nfields != G_COLUMNS) {
            rc = trace_fail(err, r.line, 0, "expected %d columns, found %zu", G_COLUMNS, r.nfields);
            break;
        }
        int empty = -1;
        for (int i = 0; i < G_COLUMNS && empty < 0; i++)
            if (i != G_NEG_PROMPT && r.fields[i].len == 0)
                empty = i;
        if (empty >= 0) {
            char reason[96];
            snprintf(reason, sizeof reason, "pending request with empty %s", header[empty]);
            stats->skipped++;
            if (opts->on_skip)
                opts->on_skip(opts->ctx, r.line, reason);
            continue;
        }
        ep_trace_row row;
        rc = convert(&r, &row, kind, attrs, err);
        if (rc)
            break;
        stats->rows++;
        rc = sink(opts->ctx, &row, r.line);
        if (rc)
            break;
    }
done:
    stats->lines = err->line > 0 ? err->line : r.lines;
    csv_fini(&r);
    return rc;
}
