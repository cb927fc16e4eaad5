/* nfresnet_config.c -- NF-ResNet configurations: presets, validation, the derived architecture (channels,
 * betas, parameter layout, timm tensor names) and the config as safetensors metadata. */
#include "vision/nfresnet.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

frz_status frz_nfr_config_named(const char *name, float width, frz_nfr_config *out)
{
    static const struct {
        const char *name;
        int depths[FRZ_NFR_STAGES];
    } presets[] = {{"nf_resnet50", {3, 4, 6, 3}}, {"nf_resnet26", {2, 2, 2, 2}}, {"tiny", {2, 1, 1, 2}}};
    if (!name || !out) return frz_fail(FRZ_ERR_INVALID_ARG, "frz_nfr_config_named: NULL argument");
    if (!(width > 0.0f) || !isfinite(width))
        return frz_fail(FRZ_ERR_INVALID_ARG, "NF-ResNet config '%s': width %g is not a positive number", name,
                        (double)width);
    for (size_t i = 0; i < sizeof presets / sizeof presets[0]; i++) {
        if (strcmp(name, presets[i].name) != 0) continue;
        static const int channels[FRZ_NFR_STAGES] = {256, 512, 1024, 2048};
        memset(out, 0, sizeof *out);
        memcpy(out->depths, presets[i].depths, sizeof out->depths);
        memcpy(out->channels, channels, sizeof out->channels);
        out->stem_channels = 64;
        out->in_channels = 3;
        out->width = width;
        out->bottle_ratio = 0.25f;
        out->alpha = 0.2f;
        out->std_eps = 1e-5f;
        out->skipinit = 1;
        return FRZ_OK;
    }
    return frz_fail(FRZ_ERR_INVALID_ARG, "unknown NF-ResNet config '%s' (nf_resnet50, nf_resnet26, tiny)", name);
}

int frz_nfr_make_divisible(double v, int divisor)
{
    int r = (int)(v + divisor / 2.0) / divisor * divisor;
    if (r < divisor) r = divisor;
    if (r < 0.9 * v) r += divisor;
    return r;
}

/* Channel counts (also after the width factor) are capped so that batch x channels and every size product
 * fits comfortably in int and size_t. */
#define MAX_CHANNELS 65536

static frz_status check_config(const frz_nfr_config *c)
{
    int total = 0;
    for (int s = 0; s < FRZ_NFR_STAGES; s++) {
        if (c->depths[s] < 1 || c->depths[s] > FRZ_NFR_MAX_BLOCKS)
            return frz_fail(FRZ_ERR_INVALID_ARG, "NF-ResNet config: depths[%d] = %d is out of range", s, c->depths[s]);
        total += c->depths[s];
        if (c->channels[s] < 1 || c->channels[s] > MAX_CHANNELS)
            return frz_fail(FRZ_ERR_INVALID_ARG, "NF-ResNet config: channels[%d] = %d is out of range", s,
                            c->channels[s]);
    }
    if (total > FRZ_NFR_MAX_BLOCKS)
        return frz_fail(FRZ_ERR_INVALID_ARG, "NF-ResNet config: depths: %d blocks, at most %d are supported", total,
                        FRZ_NFR_MAX_BLOCKS);
    if (c->stem_channels < 1 || c->stem_channels > MAX_CHANNELS)
        return frz_fail(FRZ_ERR_INVALID_ARG, "NF-ResNet config: stem_channels = %d is out of range", c->stem_channels);
    if (c->in_channels < 1 || c->in_channels > 64)
        return frz_fail(FRZ_ERR_INVALID_ARG, "NF-ResNet config: in_channels = %d is out of range", c->in_channels);
    if (!(c->width > 0.0f && c->width <= 16.0f))
        return frz_fail(FRZ_ERR_INVALID_ARG, "NF-ResNet config: width = %g is out of range (0, 16]", (double)c->width);
    if (!(c->bottle_ratio > 0.0f && c->bottle_ratio <= 16.0f))
        return frz_fail(FRZ_ERR_INVALID_ARG, "NF-ResNet config: bottle_ratio = %g is out of range (0, 16]",
                        (double)c->bottle_ratio);
    if (!isfinite(c->alpha))
        return frz_fail(FRZ_ERR_INVALID_ARG, "NF-ResNet config: alpha is not finite");
    if (!(c->std_eps > 0.0f) || !isfinite(c->std_eps))
        return frz_fail(FRZ_ERR_INVALID_ARG, "NF-ResNet config: std_conv_eps = %g is not positive", (double)c->std_eps);
    if (c->skipinit != 0 && c->skipinit != 1)
        return frz_fail(FRZ_ERR_INVALID_ARG, "NF-ResNet config: skipinit = %d is not 0 or 1", c->skipinit);
    return FRZ_OK;
}

/* Appends a tensor of numel = product of shape at the end of the layout; returns its offset. */
static size_t add_tensor(frz_nfr_arch *a, const char *name, int ndim, int64_t d0, int64_t d1, int64_t d2, int64_t d3)
{
    frz_nfr_tensor *t = &a->tensors[a->n_tensors++];
    const int64_t dims[4] = {d0, d1, d2, d3};
    snprintf(t->name, sizeof t->name, "%s", name);
    t->ndim = ndim;
    t->numel = 1;
    for (int d = 0; d < 4; d++) {
        t->shape[d] = d < ndim ? dims[d] : 0;
        if (d < ndim) t->numel *= (size_t)dims[d];
    }
    t->offset = a->n_params;
    a->n_params += t->numel;
    return t->offset;
}

/* A scaled-std conv "<prefix>.{weight,bias,gain}"; timm pads k/2 at stride 1 and (stride - 1 + k - 1)/2
 * otherwise (get_padding), which is k/2 for every odd k used here. */
static void add_conv(frz_nfr_arch *a, frz_nfr_conv_arch *c, const char *prefix, int ic, int oc, int k, int stride)
{
    char name[48];
    c->ic = ic;
    c->oc = oc;
    c->k = k;
    c->stride = stride;
    c->pad = (stride - 1 + k - 1) / 2;
    snprintf(name, sizeof name, "%s.weight", prefix);
    c->weight = add_tensor(a, name, 4, oc, ic, k, k);
    snprintf(name, sizeof name, "%s.bias", prefix);
    c->bias = add_tensor(a, name, 1, oc, 0, 0, 0);
    snprintf(name, sizeof name, "%s.gain", prefix);
    c->gain = add_tensor(a, name, 4, oc, 1, 1, 1);
}

frz_status frz_nfr_arch_init(const frz_nfr_config *cfg, frz_nfr_arch *a)
{
    frz_status st = check_config(cfg);
    if (st != FRZ_OK) return st;
    memset(a, 0, sizeof *a);
    a->stem_ch = frz_nfr_make_divisible(cfg->stem_channels * (double)cfg->width, 8);
    add_conv(a, &a->stem, "stem.conv", cfg->in_channels, a->stem_ch, 7, 2);

    /* timm's bookkeeping: beta = 1/sqrt(expected var of the block input); the variance grows by alpha^2 per
     * block and is reset to 1 after the first block of every stage (whose shortcut is a fresh conv). */
    double expected_var = 1.0;
    int prev = a->stem_ch;
    for (int s = 0; s < FRZ_NFR_STAGES; s++) {
        int out_ch = frz_nfr_make_divisible(cfg->channels[s] * (double)cfg->width, 8);
        int mid_ch = frz_nfr_make_divisible(out_ch * (double)cfg->bottle_ratio, 8);
        if (out_ch > MAX_CHANNELS || mid_ch > MAX_CHANNELS || a->stem_ch > MAX_CHANNELS)
            return frz_fail(FRZ_ERR_INVALID_ARG, "NF-ResNet config: stage %d would have %d (bottleneck %d) channels, "
                            "at most %d are supported", s, out_ch, mid_ch, MAX_CHANNELS);
        for (int b = 0; b < cfg->depths[s]; b++) {
            int i = a->n_blocks++;
            frz_nfr_block_arch *blk = &a->blocks[i];
            char prefix[48], name[48];
            blk->stage = s;
            blk->index = b;
            blk->in_ch = prev;
            blk->mid_ch = mid_ch;
            blk->out_ch = out_ch;
            blk->stride = (b == 0 && s > 0) ? 2 : 1;  /* the stem's max-pool already strides stage 0 */
            blk->has_down = prev != out_ch || blk->stride != 1;
            blk->beta = (float)(1.0 / sqrt(expected_var));
            if (blk->has_down) {
                snprintf(prefix, sizeof prefix, "stages.%d.%d.downsample.conv", s, b);
                add_conv(a, &a->down[i], prefix, prev, out_ch, 1, 1);
            }
            snprintf(prefix, sizeof prefix, "stages.%d.%d.conv1", s, b);
            add_conv(a, &a->conv1[i], prefix, prev, mid_ch, 1, 1);
            snprintf(prefix, sizeof prefix, "stages.%d.%d.conv2", s, b);
            add_conv(a, &a->conv2[i], prefix, mid_ch, mid_ch, 3, blk->stride);
            snprintf(prefix, sizeof prefix, "stages.%d.%d.conv3", s, b);
            add_conv(a, &a->conv3[i], prefix, mid_ch, out_ch, 1, 1);
            if (cfg->skipinit) {
                snprintf(name, sizeof name, "stages.%d.%d.skipinit_gain", s, b);
                a->skipinit_gain[i] = add_tensor(a, name, 0, 0, 0, 0, 0);
            }
            if (b == 0) expected_var = 1.0;
            expected_var += (double)cfg->alpha * cfg->alpha;
            prev = out_ch;
        }
    }
    a->num_features = prev;
    return FRZ_OK;
}

/* ---- metadata ---------------------------------------------------------------------------------------------- */

static const char *const KEYS[FRZ_NFR_META_PAIRS] = {
    "nfresnet.depths", "nfresnet.channels", "nfresnet.stem_channels", "nfresnet.in_channels", "nfresnet.width",
    "nfresnet.bottle_ratio", "nfresnet.alpha", "nfresnet.std_conv_eps", "nfresnet.act", "nfresnet.skipinit"};

void frz_nfr_config_to_meta(const frz_nfr_config *c, frz_nfr_meta *m)
{
    char(*v)[64] = m->values;
    snprintf(v[0], 64, "%d,%d,%d,%d", c->depths[0], c->depths[1], c->depths[2], c->depths[3]);
    snprintf(v[1], 64, "%d,%d,%d,%d", c->channels[0], c->channels[1], c->channels[2], c->channels[3]);
    snprintf(v[2], 64, "%d", c->stem_channels);
    snprintf(v[3], 64, "%d", c->in_channels);
    /* %.9g: every float survives the text round trip exactly. */
    snprintf(v[4], 64, "%.9g", (double)c->width);
    snprintf(v[5], 64, "%.9g", (double)c->bottle_ratio);
    snprintf(v[6], 64, "%.9g", (double)c->alpha);
    snprintf(v[7], 64, "%.9g", (double)c->std_eps);
    snprintf(v[8], 64, "relu");
    snprintf(v[9], 64, "%d", c->skipinit);
    for (int i = 0; i < FRZ_NFR_META_PAIRS; i++) {
        m->kv[2 * i] = KEYS[i];
        m->kv[2 * i + 1] = v[i];
    }
}

/* n comma-separated decimal ints ("3,4,6,3"), nothing else. */
static int parse_ints(const char *s, int *out, int n)
{
    for (int i = 0; i < n; i++) {
        char *end;
        errno = 0;
        long x = strtol(s, &end, 10);
        if (end == s || errno || x < -1000000000L || x > 1000000000L) return 0;
        out[i] = (int)x;
        if (*end != (i + 1 < n ? ',' : '\0')) return 0;
        s = end + 1;
    }
    return 1;
}

static int parse_float(const char *s, float *out)
{
    char *end;
    errno = 0;
    double x = strtod(s, &end);
    if (end == s || *end || errno || !isfinite(x)) return 0;
    *out = (float)x;
    return 1;
}

frz_status frz_nfr_config_from_meta(const frz_st_set *set, const char *what, frz_nfr_config *out)
{
    const char *v[FRZ_NFR_META_PAIRS];
    for (int i = 0; i < FRZ_NFR_META_PAIRS; i++) {
        v[i] = frz_st_metadata(set, KEYS[i]);
        if (!v[i])
            return frz_fail(FRZ_ERR_FORMAT, "%s: metadata '%s' is missing (not an NF-ResNet file written by libfrozen; "
                            "pass a config to load timm weights)", what, KEYS[i]);
    }
    frz_nfr_config c;
    memset(&c, 0, sizeof c);
    int ok[FRZ_NFR_META_PAIRS] = {
        parse_ints(v[0], c.depths, 4), parse_ints(v[1], c.channels, 4), parse_ints(v[2], &c.stem_channels, 1),
        parse_ints(v[3], &c.in_channels, 1), parse_float(v[4], &c.width), parse_float(v[5], &c.bottle_ratio),
        parse_float(v[6], &c.alpha), parse_float(v[7], &c.std_eps), 1, parse_ints(v[9], &c.skipinit, 1)};
    for (int i = 0; i < FRZ_NFR_META_PAIRS; i++)
        if (!ok[i]) return frz_fail(FRZ_ERR_FORMAT, "%s: metadata '%s' = \"%s\" is malformed", what, KEYS[i], v[i]);
    if (strcmp(v[8], "relu") != 0)
        return frz_fail(FRZ_ERR_UNSUPPORTED, "%s: metadata 'nfresnet.act' = \"%s\": only relu is supported", what,
                        v[8]);
    frz_status st = check_config(&c);
    if (st != FRZ_OK) return frz_fail_prefix(FRZ_ERR_UNSUPPORTED, "%s: metadata: ", what);
    *out = c;
    return FRZ_OK;
}
