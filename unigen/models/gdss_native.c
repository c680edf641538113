/* One GDSS score network (unigen's backbone + score head) on the CPU, a group of graphs at a time.
 *
 * Built and loaded by unigen/models/gdss_native.py, which also packs the weights: the layout read
 * here (spec and params) is written there, in the same order; gdss_net checks that it consumed
 * exactly n_params floats. The arithmetic is FusedScores' (unigen/models/gdss_inference.py), with
 * the LayerNorm affines already folded where that file folds them. Why a C loop: the pair states
 * of a group of 16 QM9 graphs (8 x 1,296 floats) stay in the core's cache through every layer,
 * where the torch path runs ~1,500 tensor operators per chunk, each streaming the chunk's pair
 * states through memory.
 *
 * Layouts: node states (rows, d) row-major; pair states channels first (C, P), P = G * N * N
 * rounded up to whole vectors, pair (graph g, query i, key j) at g * N * N + j * N + i (a key's
 * biases contiguous); node-side weights transposed (in, out) so the inner loops run over
 * contiguous outputs, pair-side weights (out, in) so they run over contiguous pairs. Needs GCC or
 * Clang (vector extensions); exp, SiLU and GELU are polynomials, so no -ffast-math.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

enum { READOUT_NODE = 0, READOUT_PAIR = 1 };
enum { SPEC_FIXED = 13 };    /* spec ints before the per-block update flags */
enum { GROUP_PAIRS = 1296 }; /* node pairs per group of graphs: 16 QM9 graphs, 81 whole vectors */
/* floats per vector, the target's register width (a wider generic vector split into halves ran
 * 4-5x slower than the torch path on AVX2); pair rows are padded to a multiple of this */
#if defined(__AVX512F__)
#define LANES 16
#elif defined(__AVX__)
#define LANES 8
#else
#define LANES 4
#endif
enum { MAX_IN = 32 };        /* input channels of a channels-first linear map (checked) */
#define NO_NORM (-1.0f)

/* GCC / Clang vector extensions: one register of the target */
typedef float vec __attribute__((vector_size(LANES * sizeof(float))));
static inline vec load(const float *p) {
    vec v;
    memcpy(&v, p, sizeof v);
    return v;
}
static inline void store(float *p, vec v) { memcpy(p, &v, sizeof v); }
static inline vec splat(float f) { return (vec){0} + f; }
typedef int32_t ivec __attribute__((vector_size(LANES * sizeof(int32_t))));
static inline vec vmax(vec a, vec b) {
    ivec pick_a = a > b; /* all ones where a > b */
    return (vec)((pick_a & (ivec)a) | (~pick_a & (ivec)b));
}
static inline vec vmin(vec a, vec b) { return -vmax(-a, -b); }

/* exp on the float range (Cephes expf, ~1 ulp): a polynomial, so no libm call and no -ffast-math */
static inline vec vexp(vec x) {
    x = vmin(vmax(x, splat(-87.0f)), splat(88.0f));
    vec k = (x * 1.44269504088896341f + 12582912.0f) - 12582912.0f; /* round(x / ln 2) */
    vec r = x - k * 0.693359375f + k * 2.12194440e-4f;
    vec p = 1.9875691500e-4f * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * r * r + r + 1.0f;
    ivec two_to_k = (__builtin_convertvector(k, ivec) + 127) << 23;
    return p * (vec)two_to_k;
}

static inline vec vsilu(vec x) { return x / (1.0f + vexp(-x)); }

/* exact-erf GELU (torch's default); erf by Abramowitz & Stegun 7.1.26 (|error| < 1.5e-7) */
static inline vec vgelu(vec x) {
    ivec sign = (ivec)x & (int32_t)0x80000000;
    vec z = (vec)((ivec)x & 0x7fffffff) * 0.70710678118654752f;
    vec t = 1.0f / (1.0f + 0.3275911f * z);
    vec poly = t * (0.254829592f + t * (-0.284496736f + t * (1.421413741f + t * (-1.453152027f + t * 1.061405429f))));
    vec erf_z = 1.0f - poly * vexp(-z * z);
    return 0.5f * x * (1.0f + (vec)((ivec)erf_z | sign));
}

typedef struct {
    int readout, powers, in_features, dim, pair_dim, heads, head_dim, hidden, pair_hidden;
    int blocks, head_hidden, out_features, time;
    const int32_t *update_pairs;
} Spec;

/* the channel stride of pair arrays of a group of graphs: group * N * N rounded up to LANES (the
 * padding holds finite values that no real pair reads) */
static inline int64_t padded_pairs(int group, int N) {
    return ((int64_t)group * N * N + LANES - 1) / LANES * LANES;
}

static inline vec vsqrt(vec x) {
    for (int l = 0; l < LANES; l++) x[l] = sqrtf(x[l]); /* one vsqrtps with -fno-math-errno */
    return x;
}

static inline float hsum(vec v) {
    float s[LANES];
    memcpy(s, &v, sizeof s);
    for (int width = LANES / 2; width > 0; width /= 2) /* a tree: log2(LANES) dependent adds */
        for (int l = 0; l < width; l++) s[l] += s[l + width];
    return s[0];
}

enum { ACCUMULATE = 1, SILU = 2 }; /* flags of the linear maps: y += ..., y = SiLU(...) */
enum { ROWS = 4 };                 /* node rows sharing each weight load */

/* y (rows, out) [+]= x (rows, in) @ wt (in, out) + b; LANES outputs of ROWS rows in registers
 * over the whole input, so each weight vector is loaded once per ROWS rows */
static void linear_rows(const float *restrict x, int rows, int in, const float *restrict wt,
                        const float *restrict b, int out, float *restrict y, int flags) {
    int o0 = 0;
    for (; o0 + LANES <= out; o0 += LANES) {
        int r0 = 0;
        for (; r0 + ROWS <= rows; r0 += ROWS) {
            vec acc[ROWS];
            for (int r = 0; r < ROWS; r++)
                acc[r] = load(b + o0) + (flags & ACCUMULATE ? load(y + (int64_t)(r0 + r) * out + o0) : splat(0.0f));
            for (int i = 0; i < in; i++) {
                vec wi = load(wt + (int64_t)i * out + o0);
                for (int r = 0; r < ROWS; r++) acc[r] += x[(int64_t)(r0 + r) * in + i] * wi;
            }
            for (int r = 0; r < ROWS; r++) store(y + (int64_t)(r0 + r) * out + o0, flags & SILU ? vsilu(acc[r]) : acc[r]);
        }
        for (; r0 < rows; r0++) {
            vec acc = load(b + o0) + (flags & ACCUMULATE ? load(y + (int64_t)r0 * out + o0) : splat(0.0f));
            for (int i = 0; i < in; i++) acc += x[(int64_t)r0 * in + i] * load(wt + (int64_t)i * out + o0);
            store(y + (int64_t)r0 * out + o0, flags & SILU ? vsilu(acc) : acc);
        }
    }
    for (int r = 0; r < rows; r++) /* outputs past the last whole vector (the 4 atom-type scores) */
        for (int o = o0; o < out; o++) {
            float acc = (flags & ACCUMULATE ? y[(int64_t)r * out + o] : 0.0f) + b[o];
            for (int i = 0; i < in; i++) acc += x[(int64_t)r * in + i] * wt[(int64_t)i * out + o];
            y[(int64_t)r * out + o] = flags & SILU ? acc / (1.0f + expf(-acc)) : acc;
        }
}

/* LayerNorm over the last axis of x (rows, d), with its affine (d a multiple of LANES) */
static void layer_norm_rows(const float *restrict x, int rows, int d, const float *restrict g,
                            const float *restrict b, float eps, float *restrict y) {
    for (int r = 0; r < rows; r++) {
        const float *xr = x + (int64_t)r * d;
        vec sum = splat(0.0f), squares = splat(0.0f);
        for (int c = 0; c < d; c += LANES) sum += load(xr + c);
        float mean = hsum(sum) / d;
        for (int c = 0; c < d; c += LANES) {
            vec centred = load(xr + c) - mean;
            squares += centred * centred;
        }
        float inv = 1.0f / sqrtf(hsum(squares) / d + eps);
        for (int c = 0; c < d; c += LANES)
            store(y + (int64_t)r * d + c, (load(xr + c) - mean) * inv * load(g + c) + load(b + c));
    }
}

/* y (out, P) [+]= w (out, in) @ x' (in, P) + b, x' = x or (norm_eps >= 0) x normalised over its
 * channels without affine (LayerNorm, its affine folded into w and b); SiLU on y with the flag.
 * Per block of LANES pairs the inputs sit in registers (in <= MAX_IN); the switch below gives
 * the compiler the channel counts as constants, so the loops unroll. */
static inline __attribute__((always_inline)) void linear_cf_in(
    const float *restrict x, const int in, int64_t P, const float *restrict w, const float *restrict b,
    int out, float *restrict y, int flags, float norm_eps) {
    vec xs[MAX_IN];
    for (int64_t q0 = 0; q0 < P; q0 += LANES) {
        for (int i = 0; i < in; i++) xs[i] = load(x + i * P + q0);
        if (norm_eps >= 0.0f) {
            vec mean = splat(0.0f), var = splat(0.0f);
            for (int i = 0; i < in; i++) mean += xs[i];
            mean *= 1.0f / in;
            for (int i = 0; i < in; i++) {
                xs[i] -= mean;
                var += xs[i] * xs[i];
            }
            vec inv = 1.0f / vsqrt(var * (1.0f / in) + norm_eps);
            for (int i = 0; i < in; i++) xs[i] *= inv;
        }
        for (int o = 0; o < out; o++) {
            vec acc = flags & ACCUMULATE ? load(y + o * P + q0) + b[o] : splat(b[o]);
            for (int i = 0; i < in; i++) acc += w[o * in + i] * xs[i];
            store(y + o * P + q0, flags & SILU ? vsilu(acc) : acc);
        }
    }
}

static void linear_cf(const float *restrict x, int in, int64_t P, const float *restrict w,
                      const float *restrict b, int out, float *restrict y, int flags, float norm_eps) {
    switch (in) {
    case 2: linear_cf_in(x, 2, P, w, b, out, y, flags, norm_eps); break;
    case 8: linear_cf_in(x, 8, P, w, b, out, y, flags, norm_eps); break;
    case 16: linear_cf_in(x, 16, P, w, b, out, y, flags, norm_eps); break;
    default: linear_cf_in(x, in, P, w, b, out, y, flags, norm_eps);
    }
}

/* x[:n] = SiLU(x[:n]) (or GELU); whole vectors, so buffers have LANES floats of slack */
static void silu_inplace(float *restrict x, int64_t n) {
    for (int64_t i = 0; i < n; i += LANES) store(x + i, vsilu(load(x + i)));
}

static void gelu_inplace(float *restrict x, int64_t n) {
    for (int64_t i = 0; i < n; i += LANES) store(x + i, vgelu(load(x + i)));
}

/* pair-biased attention (q already scaled), LANES queries at a time as one vector: the softmax
 * over keys is then elementwise across the key loop (no horizontal reductions), padded keys are
 * skipped, and a padded query's message is zeroed (as in FusedScores). bias is the pair bias,
 * channels first with stride P, pair (query i, key k) at k * N + i, so a key's biases are contiguous. */
static void attention(const Spec *s, int N, const float *restrict qkv, const float *restrict bias,
                      int64_t P, const float *restrict mask, float *restrict out) {
    int d = s->dim, hd = s->head_dim;
    vec logits[N], qt[hd], message[hd]; /* one vector per key; per head channel */
    for (int h = 0; h < s->heads; h++)
        for (int i0 = 0; i0 < N; i0 += LANES) {
            int width = N - i0 < LANES ? N - i0 : LANES;
            vec top = splat(0.0f), total = splat(0.0f);
            for (int c = 0; c < hd; c++) {
                qt[c] = message[c] = splat(0.0f);
                for (int l = 0; l < width; l++) qt[c][l] = qkv[(int64_t)(i0 + l) * 3 * d + h * hd + c];
            }
            int first = 1;
            for (int k = 0; k < N; k++) {
                if (mask[k] == 0.0f) continue;
                const float *key = qkv + (int64_t)k * 3 * d + d + h * hd;
                vec v = load(bias + h * P + (int64_t)k * N + i0);
                for (int c = 0; c < hd; c++) v += key[c] * qt[c];
                logits[k] = v;
                top = first ? v : vmax(top, v);
                first = 0;
            }
            for (int k = 0; k < N; k++) {
                if (mask[k] == 0.0f) continue;
                vec weight = vexp(logits[k] - top);
                const float *value = qkv + (int64_t)k * 3 * d + 2 * d + h * hd;
                total += weight;
                for (int c = 0; c < hd; c++) message[c] += value[c] * weight;
            }
            for (int l = 0; l < width; l++) {
                float scale = first || mask[i0 + l] == 0.0f ? 0.0f : 1.0f / total[l];
                for (int c = 0; c < hd; c++) out[(int64_t)(i0 + l) * d + h * hd + c] = message[c][l] * scale;
            }
        }
}

typedef struct {
    float *x, *xn, *qkv, *att, *terms, *terms_t, *hidden; /* node side */
    float *powers, *e, *proj, *h, *pair_mask;              /* pair side */
    float *block;                                          /* one allocation holding them all */
} Work;

/* Carves the buffers of a group of graphs out of one zeroed block, each with LANES floats of
 * slack for whole-vector loads past its end. Returns 0 when memory ran out. */
static int work_alloc(Work *w, const Spec *s, int group, int N) {
    int64_t P = padded_pairs(group, N);
    int64_t rows = (int64_t)group * N, d = s->dim, p = s->pair_dim;
    int64_t wide = s->pair_hidden > p ? s->pair_hidden : p;
    int64_t node_wide = s->hidden > s->head_hidden ? s->hidden : s->head_hidden;
    node_wide = node_wide > s->out_features ? node_wide : s->out_features;
    float **slots[] = {&w->x,      &w->xn, &w->qkv,  &w->att, &w->terms, &w->terms_t,
                       &w->hidden, &w->powers, &w->e, &w->proj, &w->h,  &w->pair_mask};
    int64_t sizes[] = {rows * d,         rows * d, rows * 3 * d,        rows * d,  rows * 2 * p,
                       rows * 2 * p,     rows * node_wide, s->powers * P, p * P,
                       (s->heads + p) * P, wide * P, P};
    enum { SLOTS = sizeof(sizes) / sizeof(sizes[0]) };
    int64_t total = 0;
    for (int i = 0; i < SLOTS; i++) total += sizes[i] + LANES;
    if ((w->block = calloc((size_t)total, sizeof(float))) == NULL) return 0;
    float *next = w->block;
    for (int i = 0; i < SLOTS; i++) {
        *slots[i] = next;
        next += sizes[i] + LANES;
    }
    return 1;
}

#define TAKE(n) (cursor += (n), cursor - (n))

/* A group of G graphs (their pair states side by side, pair (g, i, j) at g * N * N + j * N + i, so
 * the pair-side maps run over whole vectors with no padding per graph, and the node-side maps over
 * G * N rows): x_in (G * N, F), adj (G, N, N), mask (G * N,), t (G,) -> out (G * N, out_features)
 * or (G, N, N). Returns the number of params floats read. */
static int64_t group(const Spec *s, const float *params, int G, int N, const float *restrict x_in,
                     const float *restrict adj, const float *restrict mask, const float *restrict t,
                     float *restrict out, Work *w) {
    const float *cursor = params;
    int d = s->dim, p = s->pair_dim, H = s->heads, rows = G * N, NN = N * N;
    int64_t P = padded_pairs(G, N);

    for (int g = 0; g < G; g++)
        for (int i = 0; i < N; i++)
            for (int j = 0; j < N; j++) w->pair_mask[g * NN + i * N + j] = mask[g * N + i] * mask[g * N + j];
    /* adjacency powers A, A^2, ... channels first, stored transposed: (A^k)^T = (A^T)^k */
    for (int g = 0; g < G; g++) {
        float *first = w->powers + g * NN;
        for (int i = 0; i < N; i++)
            for (int j = 0; j < N; j++) first[j * N + i] = adj[g * NN + i * N + j];
        for (int k = 1; k < s->powers; k++) {
            const float *prev = first + (k - 1) * P;
            float *next = first + k * P;
            for (int i = 0; i < N; i++) { /* row i of prev @ first, the inner loop over a row */
                memset(next + i * N, 0, sizeof(float) * N);
                for (int m = 0; m < N; m++)
                    for (int j = 0; j < N; j++) next[i * N + j] += prev[i * N + m] * first[m * N + j];
            }
        }
    }
    /* embeddings and the time condition */
    const float *node_w = TAKE(s->in_features * d), *node_b = TAKE(d);
    const float *pair_w = TAKE(p * s->powers), *pair_b = TAKE(p);
    const float *cond_node = TAKE(d), *cond_pair = TAKE(p);
    linear_rows(x_in, rows, s->in_features, node_w, node_b, d, w->x, 0);
    linear_cf(w->powers, s->powers, P, pair_w, pair_b, p, w->e, 0, NO_NORM);
    for (int g = 0; g < G && s->time; g++) {
        for (int i = 0; i < N; i++)
            for (int c = 0; c < d; c++) w->x[(g * N + i) * d + c] += t[g] * cond_node[c];
        for (int c = 0; c < p; c++)
            for (int q = 0; q < NN; q++) w->e[c * P + g * NN + q] += t[g] * cond_pair[c];
    }

    for (int b = 0; b < s->blocks; b++) {
        int update = s->update_pairs[b];
        int proj_rows = H + (update ? p : 0);
        float pair_eps = *TAKE(1);
        const float *pair_in = TAKE(proj_rows * p), *pair_in_b = TAKE(proj_rows);
        const float *attn_g = TAKE(d), *attn_b = TAKE(d), *attn_eps = TAKE(1);
        const float *qkv_w = TAKE(d * 3 * d), *qkv_b = TAKE(3 * d);
        const float *out_w = TAKE(d * d), *out_b = TAKE(d);
        /* pair bias (and the pair update's input) from the normalised pair states */
        linear_cf(w->e, p, P, pair_in, pair_in_b, proj_rows, w->proj, 0, pair_eps);
        /* 1. attention */
        layer_norm_rows(w->x, rows, d, attn_g, attn_b, *attn_eps, w->xn);
        linear_rows(w->xn, rows, d, qkv_w, qkv_b, 3 * d, w->qkv, 0);
        for (int g = 0; g < G; g++)
            attention(s, N, w->qkv + g * N * 3 * d, w->proj + g * NN, P, mask + g * N, w->att + g * N * d);
        linear_rows(w->att, rows, d, out_w, out_b, d, w->x, ACCUMULATE);
        /* 2. pair update from the node states, then the pair FFN; zero on padded pairs */
        if (update) {
            const float *nodes_g = TAKE(d), *nodes_b = TAKE(d), *nodes_eps = TAKE(1);
            const float *terms_w = TAKE(d * 2 * p), *terms_b = TAKE(2 * p);
            const float *upd_w = TAKE(p * p), *upd_b = TAKE(p);
            float ffn_eps = *TAKE(1);
            const float *ffn_in = TAKE(s->pair_hidden * p), *ffn_in_b = TAKE(s->pair_hidden);
            const float *ffn_out = TAKE(p * s->pair_hidden), *ffn_out_b = TAKE(p);
            layer_norm_rows(w->x, rows, d, nodes_g, nodes_b, *nodes_eps, w->xn);
            linear_rows(w->xn, rows, d, terms_w, terms_b, 2 * p, w->terms, 0);
            for (int r = 0; r < rows; r++) /* channels first, so the loop below reads rows of it */
                for (int c = 0; c < 2 * p; c++) w->terms_t[c * rows + r] = w->terms[r * 2 * p + c];
            for (int c = 0; c < p; c++)
                for (int g = 0; g < G; g++) {
                    const float *a = w->terms_t + c * rows + g * N, *b = w->terms_t + (p + c) * rows + g * N;
                    for (int j = 0; j < N; j++) {
                        int64_t q0 = c * P + g * NN + j * N;
                        for (int i = 0; i < N; i++) w->h[q0 + i] = w->proj[H * P + q0 + i] + a[i] + b[j];
                    }
                }
            silu_inplace(w->h, p * P);
            linear_cf(w->h, p, P, upd_w, upd_b, p, w->e, ACCUMULATE, NO_NORM);
            linear_cf(w->e, p, P, ffn_in, ffn_in_b, s->pair_hidden, w->h, SILU, ffn_eps);
            linear_cf(w->h, s->pair_hidden, P, ffn_out, ffn_out_b, p, w->e, ACCUMULATE, NO_NORM);
            for (int c = 0; c < p; c++)
                for (int64_t q = 0; q < P; q++) w->e[c * P + q] *= w->pair_mask[q];
        }
        /* 3. node FFN */
        const float *ffn_g = TAKE(d), *ffn_nb = TAKE(d), *ffn_eps = TAKE(1);
        const float *w1 = TAKE(d * s->hidden), *b1 = TAKE(s->hidden);
        const float *w2 = TAKE(s->hidden * d), *b2 = TAKE(d);
        layer_norm_rows(w->x, rows, d, ffn_g, ffn_nb, *ffn_eps, w->xn);
        linear_rows(w->xn, rows, d, w1, b1, s->hidden, w->hidden, 0);
        gelu_inplace(w->hidden, (int64_t)rows * s->hidden);
        linear_rows(w->hidden, rows, s->hidden, w2, b2, d, w->x, ACCUMULATE);
    }

    if (s->readout == READOUT_NODE) {
        const float *g = TAKE(d), *nb = TAKE(d), *eps = TAKE(1);
        const float *h0 = TAKE(d * s->head_hidden), *h0_b = TAKE(s->head_hidden);
        const float *h2 = TAKE(s->head_hidden * s->out_features), *h2_b = TAKE(s->out_features);
        layer_norm_rows(w->x, rows, d, g, nb, *eps, w->xn);
        linear_rows(w->xn, rows, d, h0, h0_b, s->head_hidden, w->hidden, SILU);
        linear_rows(w->hidden, rows, s->head_hidden, h2, h2_b, s->out_features, out, 0);
        for (int r = 0; r < rows; r++)
            for (int f = 0; f < s->out_features; f++) out[r * s->out_features + f] *= mask[r];
    } else {
        float eps = *TAKE(1);
        const float *h_in = TAKE(p * p), *h_in_b = TAKE(p);
        const float *h_out = TAKE(p), *h_out_b = TAKE(1);
        linear_cf(w->e, p, P, h_in, h_in_b, p, w->h, SILU, eps);
        float *score = w->proj; /* (1, P) */
        linear_cf(w->h, p, P, h_out, h_out_b, 1, score, 0, NO_NORM);
        for (int g = 0; g < G; g++)
            for (int i = 0; i < N; i++)
                for (int j = 0; j < N; j++) {
                    float keep = (i != j) * w->pair_mask[g * NN + i * N + j];
                    const float *sg = score + g * NN;
                    out[g * NN + i * N + j] = 0.5f * (sg[i * N + j] + sg[j * N + i]) * keep;
                }
    }
    return cursor - params;
}

/* Floats per vector in this build: 16 with AVX-512, 8 with AVX, 4 otherwise (where the kernel ran
 * slower than the torch path, so unigen's kernel=auto does not pick it). */
int gdss_lanes(void) { return LANES; }

/* The network on B graphs of N node slots: x_in (B, N, F), adj (B, N, N), node_mask (B, N) (1 =
 * real node), t (B,) -> out (B, N, out_features) or (B, N, N). Returns 0, or -1 when params does
 * not hold exactly n_params floats of this spec, -2 when memory ran out, -3 for sizes this file
 * does not handle (dim not a multiple of LANES, more than MAX_IN pair channels). */
int gdss_net(const int32_t *spec_ints, const float *params, int64_t n_params, int64_t B, int64_t N,
             const float *x_in, const float *adj, const float *node_mask, const float *t, float *out) {
    Spec s = {spec_ints[0], spec_ints[1], spec_ints[2],  spec_ints[3],  spec_ints[4],
              spec_ints[5], spec_ints[6], spec_ints[7],  spec_ints[8],  spec_ints[9],
              spec_ints[10], spec_ints[11], spec_ints[12], spec_ints + SPEC_FIXED};
    int widest_in = s.pair_hidden > s.pair_dim ? s.pair_hidden : s.pair_dim;
    if (widest_in > MAX_IN || s.powers > MAX_IN || s.dim % LANES) return -3;
    int64_t NN = N * N, out_per_graph = s.readout == READOUT_NODE ? N * s.out_features : NN;
    int size = NN >= GROUP_PAIRS ? 1 : (int)(GROUP_PAIRS / NN); /* graphs per group */
    Work w;
    if (!work_alloc(&w, &s, size, (int)N)) return -2;
    int status = 0;
    for (int64_t g = 0; g < B && status == 0; g += size) {
        int G = B - g < size ? (int)(B - g) : size;
        int64_t used = group(&s, params, G, (int)N, x_in + g * N * s.in_features, adj + g * NN,
                             node_mask + g * N, t + g, out + g * out_per_graph, &w);
        if (used != n_params) status = -1;
    }
    free(w.block);
    return status;
}
